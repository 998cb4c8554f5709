"""Explanations in a real browser: salience beside the attention maps (click a candidate,
see what pushed it) and the Compare tab against a quickly fine-tuned copy of the embedded
preset. Takes salience.png and compare.png (SHOTS)."""

import pytest

from tests.harness.browser import BROWSER_MARKS, SHOTS, open_page

TEXT = "The doctor told me to take the [MASK] twice a day."

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def finetuned_folder(tmp_path_factory):
    """The embedded preset after a few steps on medical sentences: a real second model."""
    from albert_demo import AlbertMaskedLM
    from albert_demo.presets.registry import EMBEDDED_PRESET
    model = AlbertMaskedLM.from_preset(EMBEDDED_PRESET)
    lines = [f"Take the {w} twice a day, the doctor said." for w in
             ("medicine", "tablets", "pills", "medicine", "capsules", "medicine")] * 4
    model.fit(x=lines, batch_size=8, epochs=4, verbose=0)
    folder = tmp_path_factory.mktemp("presets") / "tiny-medicine"
    model.save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="module")
def page(app_server):
    # 180 s for every wait: the first salience compiles its program.
    with open_page(app_server.url, timeout=180_000) as page:
        yield page


def test_salience_beside_the_attention_maps(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_selector("#filled-text mark")  # the page opens with a prediction
    page.locator("#input-text textarea").fill(TEXT)
    page.locator("#predict-button").click()
    page.wait_for_function("() => document.querySelector('#filled-text')"
                           ".innerText.includes('twice')")
    page.wait_for_function("() => !document.querySelector('#predict-results').dataset.stale")
    page.get_by_role("tab", name="Attention").click()
    page.locator("#attention-rollout input").check()
    page.wait_for_function("() => document.querySelector('#attention-heatmap')"
                           ".innerText.includes('rollout')")
    candidates = page.locator("#salience-candidate label")
    candidates.first.wait_for()
    second = candidates.nth(1)
    word = second.inner_text().split(" (")[0]
    second.click()  # a click explains that word
    page.wait_for_selector("#salience-sentence span[title]")
    page.wait_for_function(
        "w => document.querySelector('#salience-sentence').innerText.includes(w)", arg=word)
    titles = page.locator("#salience-sentence span[title]").evaluate_all(
        "spans => spans.map(s => s.title)")
    assert any("doctor" in t for t in titles)
    assert all("pushes" in t for t in titles)
    page.wait_for_selector("#salience-bars .plot-container .bars path")
    page.locator("#salience-view").screenshot(path=str(SHOTS / "salience.png"))


def test_compare_tab(page, finetuned_folder):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-text textarea").fill(TEXT)
    box = page.locator("#compare-presets input")
    box.fill(str(finetuned_folder))
    box.press("Enter")
    page.locator("#compare-run").click()
    page.wait_for_selector("#compare-table table")
    assert "tiny-medicine" in page.locator("#compare-table").inner_text()
    assert "JS" in page.locator("#compare-table caption").first.inner_text()
    page.wait_for_selector("#compare-columns .plot-container .bars path")
    page.wait_for_selector("#compare-agreement .plot-container .bars path")
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)
