"""A real browser (Debian's chromium, driven by Playwright) against the launched app.

Screenshots go to SHOTS (docs/screenshots/ through scripts/screenshots.sh).
"""

import os

import pytest

from tests.harness.browser import BROWSER_MARKS, SHOTS, open_page

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def page(app_server):
    with open_page(app_server.url) as page:
        yield page


def test_predict_attention_and_annotate_in_a_browser(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    # The page opens with the default sentence predicted: let that finish before typing, so
    # its answer cannot land after ours.
    page.wait_for_selector("#filled-text mark")
    box = page.locator("#input-text textarea")
    box.fill("The quick brown fox jumps over the lazy ")
    page.locator("#insert-mask").click()  # at the cursor: the end of the text
    page.wait_for_function(
        "() => document.querySelector('#input-text textarea').value.endsWith('[MASK]')")
    box.press("End")
    box.type(".")
    page.locator("#predict-button").click()

    # Ranked predictions: the filled text and a plotly chart with one bar per guess. (The
    # page opens with the default sentence predicted: wait for this one's.)
    page.wait_for_function("() => document.querySelector('#filled-text')"
                           ".innerText.includes('lazy')")
    page.wait_for_selector("#filled-text mark")
    page.wait_for_selector("#prediction-chart .plot-container .bars path")
    page.wait_for_function("() => !document.querySelector('#predict-results').dataset.stale")
    assert page.locator("#prediction-chart .ytick").count() >= 5
    assert "[MASK] 1" in page.locator("#prediction-chart").inner_text()
    page.screenshot(path=str(SHOTS / "predict.png"), full_page=True)

    # Annotate below the predictions.
    page.get_by_label("Wrong").check()
    correct = page.get_by_label("Right word (pick or type)")
    correct.fill("dog")
    correct.press("Enter")
    page.locator("#save-annotation").click()
    page.get_by_text("Saved annotation #").wait_for()

    # Attention from the same forward pass.
    page.get_by_role("tab", name="Attention").click()
    page.wait_for_selector("#attention-heatmap .plot-container .heatmaplayer, "
                           "#attention-heatmap .plot-container .hm")
    assert "[MASK]" in page.locator("#attention-heatmap").inner_text()
    page.screenshot(path=str(SHOTS / "attention.png"), full_page=True)

    page.get_by_role("tab", name="Annotations").click()
    page.locator("#search-annotations").click()
    page.wait_for_function(
        "() => document.querySelector('#annotations-table').innerText.includes('dog')")
    page.locator("#evaluate").click()
    page.wait_for_function("() => document.querySelector('#accuracy-chart')"
                           "?.innerText.includes('Accuracy on 1 annotated')")
    page.screenshot(path=str(SHOTS / "annotations.png"), full_page=True)
    assert os.path.getsize(SHOTS / "predict.png") > 10_000
