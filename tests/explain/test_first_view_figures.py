"""What a first-time reader sees in the figures: chart titles name a [MASK] as the text
does (token positions stay in the JSON), and the shaded salience sentence keeps the space
before [MASK]. Built from hand-made results, so the spelling is what is checked."""

import re

from albert_demo.plots import predictions_chart, salience_html


def _result(masks):
    return {"masks": [{"index": index, "predictions": [
        {"token": "tea", "token_id": 20, "score": 0.5},
        {"token": "coffee", "token_id": 21, "score": 0.3}], **extra}
        for index, extra in masks]}


def test_chart_titles_name_the_mask_without_token_ids():
    titles = [a.text for a in predictions_chart(_result([(6, {}), (9, {})])).layout.annotations]
    assert titles == ["[MASK] 1", "[MASK] 2"]
    joint = _result([(6, {"fill_order": 2}), (9, {"fill_order": 1})])
    titles = [a.text for a in predictions_chart(joint).layout.annotations]
    assert titles == ["[MASK] 1 (filled #2)", "[MASK] 2 (filled #1)"]


def test_salience_sentence_keeps_the_space_before_mask():
    result = {"tokens": ["[CLS]", "\u2581a", "\u2581cup", "\u2581of", "[MASK]", ".", "[SEP]"],
              "attributions": [0, 0.1, 0.2, -0.1, 0, 0.05, 0], "mask_index": 4,
              "mask_ordinal": 0, "method": "gradient_x_input",
              "target": {"token": "tea", "token_id": 20}}
    words = re.sub(r"<[^>]+>", "", re.search(r'line-height:2">(.*?)</p>',
                                              salience_html(result)).group(1))
    assert words == "a cup of [MASK]."
