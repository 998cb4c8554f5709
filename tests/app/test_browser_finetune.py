"""The Fine-tune tab end to end in a real browser (Debian's chromium, driven by Playwright):
upload a small .txt, preview it (sample passages, probes made from its held-out lines),
pick tiny settings, Start, wait for the run to finish, then check the before/after table,
the probe table (every column in view) and the offered zip. Screenshot:
finetune.png (SHOTS)."""

import re

from tests.harness.browser import BROWSER_MARKS, SHOTS, open_page

pytestmark = BROWSER_MARKS

SUBJECTS = ["The court", "The judge", "The lawyer", "The clerk", "The witness", "The jury"]
VERBS = ["granted", "denied", "heard", "read", "filed", "signed"]
OBJECTS = ["the motion", "the appeal", "the petition", "the claim", "the brief"]
NUMBER = r"-?\d+(?:\.\d+)?"


def training_text(path, lines=60):
    rows = [f"{SUBJECTS[i % len(SUBJECTS)]} {VERBS[(i // 2) % len(VERBS)]} "
            f"{OBJECTS[i % len(OBJECTS)]} on day {i + 1}." for i in range(lines)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def set_number(page, elem_id, value):
    box = page.locator(f"#{elem_id} input")
    box.fill(str(value))
    box.press("Tab")
    assert box.input_value() == str(value)


def test_finetune_tab_end_to_end_in_a_browser(app_server, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    upload_file = training_text(tmp_path / "court_sentences.txt")
    with open_page(app_server.url, 1280, 1400) as page:

        page.get_by_role("tab", name="Fine-tune").click()
        page.locator("#finetune-upload").wait_for()
        page.locator("#finetune-upload input[type=file]").set_input_files(str(upload_file))
        page.locator("#finetune-upload").get_by_text("court_sentences.txt").wait_for()
        # Before training the loss plot says what will be there, not empty axes.
        page.locator("#finetune-loss").get_by_text("once training starts").wait_for()

        page.locator("#finetune-preview-button").click()
        preview = page.locator("#finetune-preview")
        preview.get_by_text("sample_train_passages").wait_for()
        assert re.search(r"The (court|judge|lawyer|clerk|witness|jury) \w+ the",
                         preview.inner_text()), preview.inner_text()
        probes = page.locator("#finetune-probes textarea")
        page.wait_for_function(
            "() => document.querySelector('#finetune-probes textarea').value"
            ".includes('[MASK]')")
        assert "France" not in probes.input_value()

        name = page.locator("#finetune-name textarea, #finetune-name input").first
        name.fill("browser-ft")
        name.press("Tab")
        set_number(page, "finetune-steps", 12)
        set_number(page, "finetune-batch-size", 4)
        set_number(page, "finetune-sequence-length", 32)

        page.locator("#finetune-start").click()
        # "**done** — Finished after …" (or failed/cancelled, which the assert reports).
        page.wait_for_function(
            "() => { const t = document.querySelector('#finetune-progress').innerText;"
            " return /Finished after|Training failed|Cancelled|error:/.test(t); }",
            timeout=420_000, polling=500)
        progress = page.locator("#finetune-progress").inner_text()
        assert "Finished after" in progress, progress
        assert "step 12/12" in progress, progress

        metrics = page.locator("#finetune-metrics")
        page.wait_for_function(
            "() => document.querySelector('#finetune-metrics').innerText"
            ".includes('masked-token loss')")
        text = metrics.inner_text()
        labels = ("masked-token loss", "top-1 accuracy", "top-5 accuracy")
        starts = [text.index(label) + len(label) for label in labels]
        ends = [text.index(label) for label in labels[1:]] + [len(text)]
        rows = {label: [float(x) for x in re.findall(NUMBER, text[a:b])]
                for label, a, b in zip(labels, starts, ends)}
        for label, numbers in rows.items():  # before, after, change
            assert len(numbers) == 3, f"{label}: want 3 numbers, got {numbers} in {text!r}"
        before, after, change = rows["masked-token loss"]
        assert before > 0 and after > 0 and abs(after - before - change) < 1e-3

        # The probe table keeps its fine-tuned column in view (it used to overflow).
        table = page.locator("#finetune-probe-table")
        header = table.get_by_text("fine-tuned model").first
        header.wait_for()
        box, frame = header.bounding_box(), table.bounding_box()
        assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, (box, frame)
        assert table.get_by_text("[MASK]").first.is_visible()

        link = page.locator("#finetune-download a").first
        link.wait_for()
        offered = (link.get_attribute("href") or "") + link.inner_text()
        assert ".zip" in offered, offered

        page.screenshot(path=str(SHOTS / "finetune.png"), full_page=True)
    assert (SHOTS / "finetune.png").stat().st_size > 10_000
