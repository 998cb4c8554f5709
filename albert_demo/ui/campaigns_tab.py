"""Campaigns tab: the annotation queue (keyboard first), and the owner's create form,
dashboard, review/adjudication and export. Layout and wiring only: what is shown comes from
`campaign_views`, who is asking from `campaign_api.who` (a login, else this browser's
anonymous session id), the work from `CampaignService`.
"""

import html
import logging
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import gradio.oauth

from albert_demo.plots import accuracy_chart
from albert_demo.plots.campaigns import agreement_chart, annotator_chart, progress_chart
from albert_demo.ui import campaign_layouts
from albert_demo.ui.campaign_layouts import STRATEGIES
from albert_demo.ui.campaign_api import Profile, who
from albert_demo.ui.campaign_views import (NONE_FIT, answer_of, campaign_choices, choices,
                                           figures_markdown, leases_markdown, review_row,
                                           sentence_html)
from albert_demo.ui.downloads import handout
from albert_demo.ui.errors import user_errors

log = logging.getLogger("albert_demo.ui")
NO_CAMPAIGN_OWNER = ("**No campaign yet**: create one from a file of sentences (one a line; "
                     "no [MASK] needed) under *Create a campaign* below.")
NO_CAMPAIGN_CREATOR = ("**No campaign yet**: create one from a file of sentences in the "
                       "*Manage* view.")
NO_CAMPAIGN_ANNOTATOR = ("**No campaign yet**: an owner creates one from a file of "
                         "sentences; press ↻ Refresh list to see it.")
PICK_ONE = "Pick a campaign above to start."
EVALUATING = ("⏳ Evaluating on the gold: each preset predicts every settled mask "
              "(about 8 s a preset on a CPU)…")
# Installed once per page: number keys toggle the visible candidates in order, Enter
# submits, S skips, U undoes; nothing happens while typing or when the tab is hidden.
KEYS_JS = """
(...args) => {
  if (!window.__albertCampaignKeys) {
    window.__albertCampaignKeys = true;
    const click = (id) => { const b = document.getElementById(id); if (b) b.click(); };
    document.addEventListener('keydown', (e) => {
      const queue = document.getElementById('campaign-queue');
      if (!queue || queue.offsetParent === null) return;
      if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;  // a held key: once
      const t = e.target;
      if (t && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.type !== 'checkbox')
                || t.isContentEditable)) return;
      if (/^[1-9]$/.test(e.key)) {
        const boxes = [...queue.querySelectorAll('.campaign-options input[type=checkbox]')]
          .filter((b) => b.offsetParent !== null);
        const box = boxes[Number(e.key) - 1];
        if (box) { box.click(); e.preventDefault(); }
      } else if (e.key === 'Enter') { click('campaign-submit'); e.preventDefault(); }
      else if (e.key === 's' || e.key === 'S') { click('campaign-skip'); e.preventDefault(); }
      else if (e.key === 'u' || e.key === 'U') { click('campaign-undo'); e.preventDefault(); }
    });
  }
  return args;
}
"""




def build_campaigns_tab(context):
    """context.campaigns: a `CampaignService`. Returns the page-load hook (dict for .then).
    Who is asking, in every handler: the login (request / Hugging Face profile), else this
    browser's session id (`context.session`), which survives a reload.

    Two views under one campaign picker: "Annotate" (the queue, for everyone) and
    "Manage" (create, dashboard, review, evaluation, export; only for those who may
    create campaigns)."""
    service, session = context.campaigns, context.session
    pick = campaign_layouts.picker_layout()
    with gr.Tabs(elem_id="campaign-views"):
        with gr.Tab("Annotate", id="annotate", elem_id="campaign-annotate-view"):
            annotate_empty = gr.Markdown(PICK_ONE, elem_id="campaign-annotate-empty")
            queue = campaign_layouts.queue_layout()
        with gr.Tab("Manage", id="manage", elem_id="campaign-manage-view",
                    visible=False) as manage:
            manage_empty = gr.Markdown(NO_CAMPAIGN_OWNER, elem_id="campaign-manage-empty")
            form = campaign_layouts.create_layout()
            owner = campaign_layouts.owner_layout()
    views = SimpleNamespace(manage=manage, annotate_empty=annotate_empty,
                            manage_empty=manage_empty)
    refresh = _wire_queue(service, session, pick, queue, views)
    _wire_create(service, session, pick, form, context.annotations)
    _wire_owner(service, session, pick, owner, Path(context.data_dir) / "campaign_exports")
    return dict(fn=refresh, inputs=[session, pick.campaign],
                outputs=[pick.campaign, pick.whoami, manage, annotate_empty, manage_empty],
                js=KEYS_JS)


def _cleared(q):
    """The queue with no item on it: rows hidden, boxes and words emptied."""
    return {**{row: gr.Row(visible=False) for row in q.rows},
            **{box: gr.CheckboxGroup(choices=[], value=[]) for box in q.groups},
            **{word: "" for word in q.typed}}


def _show(q, item):
    """{component: update} for the queue from a `next`/`undo` payload."""
    if item.get("item_id") is None:
        return {**_cleared(q), q.current: item, q.start: gr.Button(visible=False),
                q.sentence: f"<p>{html.escape(item.get('message', ''))}</p>",
                q.progress: item["progress"]["text"], q.guidelines: gr.update(), q.note: ""}
    options = choices(item)
    previous = (item.get("previous") or {}).get("answers") or []
    out = {**_cleared(q), q.current: item, q.start: gr.Button(visible=False),
           q.sentence: sentence_html(item["text"]), q.progress: item["progress"]["text"],
           q.guidelines: item.get("guidelines") or "(no guidelines)", q.note: ""}
    for m, mask_options in enumerate(options):
        answer = previous[m] if m < len(previous) else {}
        ticked = list(answer.get("accepted", [])) + (
            [NONE_FIT] if answer.get("none_fit") else [])
        out[q.rows[m]] = gr.Row(visible=True)
        out[q.groups[m]] = gr.CheckboxGroup(choices=mask_options, value=ticked,
                                            label=f"[MASK {m + 1}]: acceptable words")
        out[q.typed[m]] = answer.get("typed") or ""
    return out


def _waiting(q, summary):
    """A campaign picked but no item taken: nobody holds an item before they ask."""
    return {**_cleared(q), q.current: None, q.start: gr.Button(visible=True),
            q.sentence: "<p>Press <b>Start annotating</b> to take an item.</p>",
            q.progress: summary["progress"]["text"],
            q.guidelines: summary.get("guidelines") or "(no guidelines)", q.note: ""}


PRIVATE = dict(api_visibility="private")  # the page's own events: not in the API page


def _empty_states(views, any_campaign, picked, may_create=True):
    """{component: update} for each view's empty state: no campaign at all, none picked
    yet, or hidden once one is picked."""
    if picked:
        hidden = gr.Markdown(visible=False)
        return {views.annotate_empty: hidden, views.manage_empty: hidden}
    if not any_campaign:
        annotate = NO_CAMPAIGN_CREATOR if may_create else NO_CAMPAIGN_ANNOTATOR
        return {views.annotate_empty: gr.Markdown(annotate, visible=True),
                views.manage_empty: gr.Markdown(NO_CAMPAIGN_OWNER, visible=True)}
    return {views.annotate_empty: gr.Markdown(PICK_ONE, visible=True),
            views.manage_empty: gr.Markdown(
                PICK_ONE[:-1] + " to see its dashboard, or create another below.",
                visible=True)}


def _wire_queue(service, session, pick, q, views):
    """The annotation queue: open a campaign (no lease), start, answer, undo. Returns
    the refresh handler the page load runs."""
    current, start, note, groups, typed = q.current, q.start, q.note, q.groups, q.typed
    item_outputs = ([current, q.sentence, start, q.progress, q.guidelines, note] + q.rows
                    + groups + typed)

    @user_errors
    def open_campaign(campaign_id, session_id, request: gr.Request, profile: Profile):
        """Show the campaign; lease nothing (the owner checking on it takes no item)."""
        annotator = who(service, request, session_id, profile)
        if not campaign_id:
            return {**_cleared(q), current: None, start: gr.Button(visible=False),
                    q.sentence: "", q.progress: "",
                    **_empty_states(views, bool(service.list(annotator)), False,
                                    annotator.may_create)}
        return {**_waiting(q, service.get(annotator, campaign_id)),
                **_empty_states(views, True, True)}

    @user_errors
    def start_annotating(campaign_id, session_id, request: gr.Request, profile: Profile):
        if not campaign_id:
            raise gr.Error("Pick a campaign first.")
        return _show(q, service.next(who(service, request, session_id, profile), campaign_id))

    def answer(kind):
        @user_errors
        def handler(values, request: gr.Request, profile: Profile):
            """values: {component: value} for the current item, its boxes and note."""
            item = values[current]
            if not item or item.get("item_id") is None:
                raise gr.Error("No item to answer: press Start annotating.")
            annotator = who(service, request, values[session], profile)
            cid, iid = item["campaign_id"], item["item_id"]
            if kind == "submit":
                service.submit(annotator, cid, iid, [
                    answer_of(values[groups[m]], values[typed[m]])
                    for m in range(len(item["masks"]))])
            elif kind == "skip":
                service.skip(annotator, cid, iid)
            else:
                service.flag(annotator, cid, iid, values[note])
            return _show(q, service.next(annotator, cid))
        return handler

    @user_errors
    def take_back(item, campaign_id, session_id, request: gr.Request, profile: Profile):
        cid = (item or {}).get("campaign_id") or campaign_id
        if not cid:
            raise gr.Error("Pick a campaign first.")
        return _show(q, service.undo(who(service, request, session_id, profile), cid))

    @user_errors
    def refresh(session_id, campaign_id=None, request: gr.Request = None,
                profile: Profile = None):
        """The campaign list, who you are, the Manage view for those who may create
        campaigns, and the empty states."""
        annotator = who(service, request, session_id, profile)
        badge = f"You: **{annotator.name}**" + (
            "" if annotator.verified else " (not logged in: unverified)")
        listed = campaign_choices(service, annotator)
        empty = _empty_states(views, bool(listed), bool(campaign_id), annotator.may_create)
        return (gr.Dropdown(choices=listed), badge, gr.Tab(visible=annotator.may_create),
                empty[views.annotate_empty], empty[views.manage_empty])

    campaign = pick.campaign
    view_outputs = [campaign, pick.whoami, views.manage, views.annotate_empty,
                    views.manage_empty]
    campaign.change(open_campaign, [campaign, session],
                    item_outputs + [views.annotate_empty, views.manage_empty], **PRIVATE)
    start.click(start_annotating, [campaign, session], item_outputs, **PRIVATE)
    pick.reload.click(refresh, [session, campaign], view_outputs, **PRIVATE)
    answer_inputs = {current, note, session, *groups, *typed}
    for button, kind in ((q.submit, "submit"), (q.skip, "skip"), (q.flag, "flag")):
        button.click(answer(kind), answer_inputs, item_outputs, **PRIVATE)
    for box in typed:  # Enter in a typed word submits
        box.submit(answer("submit"), answer_inputs, item_outputs, **PRIVATE)
    q.undo.click(take_back, [current, campaign, session], item_outputs, **PRIVATE)
    return refresh


def _wire_create(service, session, pick, f, annotations):
    """The owner's create form."""
    @user_errors
    def run_create(session_id, name, kind, path, presets, top_k, overlap, lease, strategy,
                   per_sentence, mask_words, instructions, request: gr.Request,
                   profile: Profile):
        annotator = who(service, request, session_id, profile)
        source = rows = None
        if kind == "file":
            if not path:
                raise gr.Error("Upload a .txt, .csv or .jsonl file of sentences.")
            source = path
        else:
            # Through the service that requires the caller's own session id: the store
            # itself would read every session's rows for a missing one.
            rows = annotations.rows(session_id)
            if not rows:
                raise gr.Error("You have no annotations yet to build a campaign from.")
        settings = {"strategy": STRATEGIES.get(strategy, strategy),
                    "per_sentence": per_sentence, "words": mask_words}
        made = service.create(annotator, name, source=source, annotations=rows,
                              presets=presets, top_k=top_k, overlap=overlap,
                              guidelines=instructions, masking=settings,
                              lease_seconds=int(lease) * 60)
        return (gr.Dropdown(choices=campaign_choices(service, annotator), value=made["id"]),
                f"Created campaign #{made['id']} with {made['items']} items.")

    f.create.click(run_create, [session, f.name, f.source_kind, f.upload, f.presets, f.top_k,
                                f.overlap, f.lease, f.strategy, f.per_sentence,
                                f.mask_words, f.instructions],
                   [pick.campaign, f.created], **PRIVATE)


def _wire_owner(service, session, pick, o, exports):
    """The owner's dashboard, review, adjudication, evaluation, export and push."""
    @user_errors
    def run_dashboard(campaign_id, session_id, request: gr.Request, profile: Profile):
        data = service.dashboard(who(service, request, session_id, profile), campaign_id)
        return (progress_chart(data["timeline"], data["needed"]),
                annotator_chart(data["per_annotator"]), agreement_chart(data["agreement"]),
                figures_markdown(data["agreement"]) + "\n\n" + leases_markdown(data["leases"]))

    @user_errors
    def run_review(campaign_id, session_id, request: gr.Request, profile: Profile):
        return [review_row(r) for r in service.review(who(service, request, session_id, profile),
                                                      campaign_id)]

    def pick_row(rows, evt: gr.SelectData):
        """A review row picked: its item goes into the settle-gold form."""
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        return str(values[row][0]), ""

    @user_errors
    def run_settle(campaign_id, item_id, words, own, session_id, request: gr.Request,
                   profile: Profile):
        if item_id in (None, ""):
            raise gr.Error("Pick an item in the review table first.")
        annotator = who(service, request, session_id, profile)
        result = service.adjudicate(annotator, campaign_id, item_id,
                                    [w.strip() or None for w in (words or "").split("|")],
                                    confirm_own_word=bool(own))
        return f"Item #{result['item_id']}: gold {result['gold']} ({result['gold_source']})."

    @user_errors
    def run_evaluate(campaign_id, names, session_id, request: gr.Request, profile: Profile):
        annotator = who(service, request, session_id, profile)
        began = time.monotonic()
        results = service.evaluate(annotator, campaign_id, names)
        return ([[r["preset"], r["items"], round(r["top1"], 4), round(r["top5"], 4)]
                 for r in results], accuracy_chart(results),
                f"Evaluated {len(results)} preset(s) in {time.monotonic() - began:.1f} s.")

    @user_errors
    def run_gold_texts(campaign_id, session_id, request: gr.Request, profile: Profile):
        text = service.gold_texts(who(service, request, session_id, profile), campaign_id)
        with tempfile.TemporaryDirectory(prefix="albert-demo-gold-") as folder:
            path = Path(folder) / f"campaign-{int(campaign_id)}-gold.txt"
            path.write_text(text, encoding="utf-8")
            return handout(path)

    @user_errors
    def run_export(campaign_id, session_id: str | None = None, request: gr.Request = None,
                   profile: Profile = None):
        """Owner: the dataset zip (session_id: for callers without a login, as elsewhere)."""
        annotator = who(service, request, session_id, profile)
        return handout(service.export(annotator, campaign_id, exports)["zip"])

    @user_errors
    def run_push(campaign_id, repo_id, hf_token, is_private, session_id, request: gr.Request,
                 profile: Profile):
        annotator = who(service, request, session_id, profile)
        result = service.push_to_hub(annotator, campaign_id, repo_id, hf_token, exports,
                                     private=is_private)
        return f"Pushed: {result['commit_url']}"

    campaign = pick.campaign
    o.dashboard.click(run_dashboard, [campaign, session],
                      [o.progress_plot, o.annotator_plot, o.agreement_plot, o.figures],
                      **PRIVATE)
    o.load_review.click(run_review, [campaign, session], [o.review], **PRIVATE)
    o.review.select(pick_row, [o.review], [o.review_item, o.gold], **PRIVATE)
    o.settle.click(run_settle, [campaign, o.review_item, o.gold, o.own_word, session],
                   [o.settled], **PRIVATE)
    # Evaluation takes seconds a preset: say so at once, then run it.
    evaluated = o.evaluate.click(lambda: EVALUATING, None, [o.evaluating], queue=False,
                                 **PRIVATE).then(
        run_evaluate, [campaign, o.eval_presets, session],
        [o.scores, o.score_chart, o.evaluating], **PRIVATE)
    evaluated.failure(lambda: "", None, [o.evaluating], queue=False, **PRIVATE)
    o.gold_button.click(run_gold_texts, [campaign, session], [o.gold_file], **PRIVATE)
    o.export.click(run_export, [campaign, session], [o.exported],
                   api_name="campaign_export_download")
    o.push.click(run_push, [campaign, o.repo, o.token, o.private, session], [o.pushed],
                 **PRIVATE)
