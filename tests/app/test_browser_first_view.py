"""A visitor's first view, in a real browser: with a reachable Hub (a loopback stand-in
serving an HF-layout checkpoint with a pretrained head as `albert/albert-base-v2`) the
official base preset is downloaded in the background and new visitors get it; without one
the embedded preset is served and the model line says what to expect; Compare's first
view; Enter in top-k predicts."""

import threading
import time
from contextlib import contextmanager

import pytest

from albert_demo.presets.registry import ASSETS_DIR, EMBEDDED_PRESET, OFFICIAL_PRESETS
from tests.harness.app import LaunchedApp
from tests.harness.browser import BROWSER_MARKS, open_page
from tests.harness.hub_files import ResolveHub, serving

pytestmark = BROWSER_MARKS
BASE = "albert_base_en_uncased"
PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
           "all_proxy")


@contextmanager
def app_with_hub(folder, cut=None):
    """app.py started with HF_ENDPOINT at a loopback Hub that serves an HF-layout
    checkpoint (random weights, the embedded preset's vocabulary) as the official base;
    no default named. Files are held back (ResolveHub.gate) until the test releases them."""
    from tests.models.model_helpers import make_hf_checkpoint

    spm = ASSETS_DIR / EMBEDDED_PRESET / "assets" / "tokenizer" / "vocabulary.spm"
    import sentencepiece
    vocab = sentencepiece.SentencePieceProcessor(model_file=str(spm)).get_piece_size()
    make_hf_checkpoint(folder / "base", spm, vocab, seed=3, max_position_embeddings=128)
    ResolveHub.repos = {OFFICIAL_PRESETS[BASE].hf_repo: {
        name: (folder / "base" / name).read_bytes()
        for name in ("config.json", "model.safetensors", "spiece.model")}}
    ResolveHub.requests, ResolveHub.cut, ResolveHub.gate = [], cut or {}, threading.Event()
    with serving(ResolveHub) as endpoint:
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": endpoint, "HF_HOME": str(folder / "hf"),
               "NO_PROXY": "127.0.0.1,localhost", **{name: "" for name in PROXIES}}
        app = LaunchedApp(folder / "data", folder / "app.log", env=env)
        try:
            app.wait_until_serving()
            yield app
        finally:
            ResolveHub.gate.set()
            app.stop()


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory):
    with app_with_hub(tmp_path_factory.mktemp("first_view")) as app:
        yield app


def wait_for_log(app, line, timeout=240):
    deadline = time.monotonic() + timeout
    while line not in open(app.log.name).read():
        assert time.monotonic() < deadline, f"{line!r} not in {app.log.name} in {timeout} s"
        time.sleep(0.5)


def model_line(page):
    return page.locator("#model-line").inner_text()


def test_reachable_hub_serves_the_base_preset_to_new_visitors(hub_app):
    # While the download runs, the embedded preset answers and the page says so.
    with open_page(hub_app.url) as page:
        page.wait_for_selector("#filled-text mark")
        assert "expect rough guesses" in model_line(page)
        page.locator("#default-download").get_by_text(f"Downloading {BASE}").wait_for()
        assert "answers with the embedded" in page.locator("#default-download").inner_text()
        ResolveHub.gate.set()
        # The line follows the download to its end, then goes.
        page.wait_for_function("() => !document.querySelector('#default-download')"
                               ".innerText.includes('Downloading')", timeout=240_000)
    wait_for_log(hub_app, f"Default preset {BASE} is ready")
    with open_page(hub_app.url) as page:
        page.wait_for_selector("#filled-text mark")
        page.wait_for_function(f"() => document.querySelector('#model-line')"
                               f".innerText.includes('{BASE}')")
        assert "official ALBERT v2" in model_line(page)
        assert page.locator("#preset input").input_value().startswith(BASE + " (")
        assert not page.locator("#use-official").is_visible()
        # The files came from the loopback Hub.
        got = {f for method, _, f, _ in ResolveHub.requests if method == "GET"}
        assert {"config.json", "model.safetensors", "spiece.model"} <= got

        # Compare opens on the embedded and the base preset, no empty state.
        page.get_by_role("tab", name="Compare").click()
        chosen = page.locator("#compare-presets").inner_text()
        assert EMBEDDED_PRESET in chosen and BASE in chosen
        assert not page.locator("#compare-empty").is_visible()

    # A permalink's preset still wins.
    with open_page(hub_app.url + f"?preset={EMBEDDED_PRESET}") as page:
        page.wait_for_selector("#filled-text mark")
        assert page.locator("#preset input").input_value().startswith(EMBEDDED_PRESET + " (")
        page.wait_for_function("() => document.querySelector('#model-line')"
                               ".innerText.includes('expect rough guesses')")
        page.locator("#use-official").click()  # one click to the real ALBERT
        page.wait_for_function(f"() => document.querySelector('#model-line')"
                               f".innerText.includes('{BASE}')")
        assert page.locator("#preset input").input_value().startswith(BASE + " (")


def test_hub_dropping_the_download_keeps_the_embedded_preset(tmp_path):
    """Every GET of the weights stops halfway and every resume is dropped."""
    with app_with_hub(tmp_path, cut={"model.safetensors": "dead"}) as app:
        ResolveHub.gate.set()
        wait_for_log(app, f"Default preset {BASE} failed")
        with open_page(app.url) as page:
            page.wait_for_selector("#filled-text mark")
            assert "expect rough guesses" in model_line(page)
            note = page.locator("#default-download")
            note.get_by_text(f"{BASE} could not be loaded").wait_for()
            assert f"answers with the embedded {EMBEDDED_PRESET}" in note.inner_text()
            assert not page.locator("#use-official").is_visible()
        # Nothing in the cache a later start could take for the weights.
        assert not list((tmp_path / "hf").rglob("snapshots/*/model.safetensors"))


def test_unreachable_hub_serves_the_embedded_preset_and_says_so(app_server):
    with open_page(app_server.url) as page:
        page.wait_for_selector("#filled-text mark")
        line = model_line(page)
        assert EMBEDDED_PRESET in line and "expect rough guesses" in line
        assert "42.9%" in line  # assets/albert_tiny_en_uncased/eval.json's top1
        assert not page.locator("#use-official").is_visible()

        # Enter in top-k predicts with the new k.
        top_k = page.locator("#top-k input")
        top_k.fill("3")
        top_k.press("Enter")
        page.wait_for_function(
            "() => document.querySelectorAll('#prediction-chart .ytick').length === 3")
        page.wait_for_function(
            "() => !document.querySelector('#predict-results').dataset.stale")

        # Compare: one model to compare, so an empty state and no error badges.
        page.get_by_role("tab", name="Compare").click()
        page.locator("#compare-empty").get_by_text("Compare needs a second model").wait_for()
        page.locator("#compare-run").click()
        page.wait_for_timeout(1000)
        assert page.get_by_text("Error", exact=True).count() == 0


PHONE = {"width": 390, "height": 844}
CROSSING_LABELS = """(within) => {
  const boxes = [...document.querySelectorAll(within + ' .xtick text')]
    .map(e => e.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0);
  let hits = 0;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const p = boxes[i], q = boxes[j];
    if (p.left < q.right - 1 && q.left < p.right - 1 && p.top < q.bottom - 1 &&
        q.top < p.bottom - 1) hits++;
  }
  return [boxes.length, hits];
}"""


def test_phone_width_tabs_results_first_and_readable_heatmap(app_server):
    with open_page(app_server.url, PHONE["width"], PHONE["height"]) as page:
        page.wait_for_selector("#filled-text mark")
        # Every tab's name on screen, none behind an overflow menu.
        for name in ("Predict", "Attention", "Compare", "Annotations", "Campaigns",
                     "Fine-tune"):
            assert page.get_by_role("tab", name=name).is_visible(), name
        # The answer comes right after the text box, before examples and settings.
        top = {elem_id: page.locator(f"#{elem_id}").bounding_box()["y"]
               for elem_id in ("input-text", "predict-results", "predict-examples",
                               "predict-settings")}
        assert (top["input-text"] < top["predict-results"] < top["predict-examples"]
                < top["predict-settings"]), top
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.locator("#input-text textarea").fill(
            "The trophy did not fit in the suitcase because [MASK] was too big.")
        page.locator("#predict-button").click()
        page.wait_for_function("() => document.querySelector('#filled-text')"
                               ".innerText.includes('suitcase')")
        page.get_by_role("tab", name="Attention").click()
        page.wait_for_selector("#attention-heatmap .xtick text")
        # Upright labels, none crossing another (plotly leaves some out when the cells are
        # narrower than a label; the hover names every cell).
        count, crossing = page.evaluate(CROSSING_LABELS, "#attention-heatmap")
        assert count >= 8 and crossing == 0, (count, crossing)
