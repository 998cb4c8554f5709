"""The Annotations tab in a real browser (Debian's chromium, driven by Playwright), at
1366 px: the table shows rows saved on the Predict tab, a row loads into the edit form and
Update changes only what was edited, a simple CSV imports from the template, evaluation
says why rows were skipped. The tests run in order on one page (one browser session).

Retakes annotations.png (SHOTS).
"""

import json

import pytest

from albert_demo.presets.registry import EMBEDDED_PRESET
from tests.harness.browser import BROWSER_MARKS, SHOTS, open_page

TEXT = "The largest city of France is [MASK]."

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def page(app_server):
    with open_page(app_server.url, 1366, 900, accept_downloads=True) as page:
        yield page


ROW_CELLS = """(t) => [...document.querySelectorAll('#annotations-table [role=row]')]
    .map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))
    .find(cells => cells.some(c => c.includes(t)))"""


def table_has(page, text):
    page.wait_for_function(
        "(t) => document.querySelector('#annotations-table').innerText.includes(t)", arg=text)


def table_row(page, text):
    """The table's cells of the first row containing `text`, as the browser shows them."""
    return page.evaluate(ROW_CELLS, text)


def row_shows(page, text, verdict_to_note):
    """Wait until the row containing `text` shows these verdict, right word, tag, note (the
    table refreshes just after the edit's message)."""
    try:
        page.wait_for_function(
            f"([t, want]) => JSON.stringify(({ROW_CELLS})(t)?.slice(6, 10)) === want",
            arg=[text, json.dumps(verdict_to_note, separators=(",", ":"))], timeout=20_000)
    except Exception:
        assert table_row(page, text)[6:10] == verdict_to_note  # says what it shows instead
        raise


def cell(page, text):
    return page.locator("#annotations-table [role=gridcell]").filter(has_text=text).first


def field(page, elem_id):
    return page.locator(f"#{elem_id}").get_by_role("textbox")


def field_is(page, elem_id, value):
    page.wait_for_function(
        "([id, v]) => document.querySelector(`#${id} textarea, #${id} input`)?.value === v",
        arg=[elem_id, value])


def test_a_save_on_the_predict_tab_shows_in_the_table_without_search(page):
    page.locator("#input-text textarea").fill(TEXT)
    page.locator("#predict-button").click()
    # This sentence's results (the page opens with another predicted); the form resets
    # when they arrive, so it is filled after.
    page.wait_for_function(
        """() => { const filled = document.querySelector('#filled-text');
                   return filled && filled.innerText.includes('largest city') &&
                          filled.querySelector('mark'); }""")
    form = page.locator("#annotate")
    form.get_by_label("Wrong").check()
    correct = form.get_by_label("Right word (pick or type)")
    correct.fill("paris")
    correct.press("Enter")
    form.get_by_label("Tag (optional)").fill("geo")
    form.get_by_label("Note (optional)").fill("first note")
    page.locator("#save-annotation").click()
    page.get_by_text("Saved annotation #").wait_for()

    page.get_by_role("tab", name="Annotations").click()  # no Search pressed
    row_shows(page, "first note", ["wrong", "paris", "geo", "first note"])


def test_a_clicked_row_loads_and_update_changes_only_the_edited_field(page):
    page.get_by_role("tab", name="Annotations").click()  # (opening refreshes the table)
    table_has(page, "first note")
    cell(page, TEXT).click()
    field_is(page, "edit-note", "first note")
    assert field(page, "edit-correct").input_value() == "paris"
    assert field(page, "edit-tag").input_value() == "geo"
    assert page.locator("#edit-verdict").get_by_label("Wrong").is_checked()
    row_id = field(page, "edit-row-id").input_value()
    assert row_id.isdecimal()

    field(page, "edit-note").fill("edited note")
    page.locator("#update-annotation").click()
    page.locator("#edit-result").get_by_text(f"Updated row {row_id}: note.").wait_for()
    row_shows(page, "edited note", ["wrong", "paris", "geo", "edited note"])


def test_a_row_id_that_is_not_whole_is_refused_not_rounded(page):
    box = field(page, "edit-row-id")
    box.fill("1.5")
    box.press("Enter")
    page.get_by_text("Row id must be a whole number, not '1.5'").first.wait_for()
    assert box.input_value() == "1.5"  # not rounded to 2
    page.locator(".toast-close").click()  # one message, not one per event
    page.locator(".toast-body").wait_for(state="detached")


def test_template_download_and_simple_csv_import_refresh_the_table(page, tmp_path):
    with page.expect_download() as download:
        page.locator("#template-csv").click()
    template = tmp_path / "template.csv"
    download.value.save_as(template)
    assert template.read_text(encoding="utf-8").startswith("text,correct_token,tag\n")

    page.locator("#import-file input[type=file]").set_input_files(str(template))
    page.locator("#import-annotations").click()
    result = page.locator("#import-result")
    result.get_by_text("Imported 3 rows.").wait_for()
    assert f"{EMBEDDED_PRESET} was assumed" in result.inner_text()
    table_has(page, "She poured a cup of [MASK]")  # refreshed without Search
    assert table_row(page, "She poured a cup")[2] == EMBEDDED_PRESET


def test_a_typed_id_loads_its_row_and_clearing_a_field_clears_only_it(page):
    cell(page, "She poured a cup").click()
    field_is(page, "edit-correct", "tea")
    field(page, "edit-row-id").fill(table_row(page, "edited note")[0])
    field(page, "edit-row-id").press("Enter")
    field_is(page, "edit-note", "edited note")
    assert field(page, "edit-correct").input_value() == "paris"
    field(page, "edit-correct").fill("")
    page.locator("#update-annotation").click()
    page.locator("#edit-result").get_by_text("right word.").wait_for()
    row_shows(page, "edited note", ["wrong", "", "geo", "edited note"])


def test_evaluate_says_why_rows_were_skipped(page):
    page.locator("#evaluate").click()
    page.wait_for_function("() => document.querySelector('#accuracy-chart')"
                           "?.innerText.includes('Accuracy on 3 annotated')")
    scores = page.locator("#evaluate-scores")
    scores.locator("[role=gridcell]").filter(has_text=(
        "3 masks from 4 rows: 1 row has no right word (marked wrong without a "
        "correction)")).wait_for()
    page.evaluate("document.querySelector('#annotations-table .virtual-table-viewport')"
                  ".scrollLeft = 0")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "annotations.png"), full_page=True)
