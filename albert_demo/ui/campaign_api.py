"""The /campaign_* endpoints for programs (gradio_client), and who is asking.

Who is annotating (`identity.from_request`): the name logged in with Gradio's `--users`,
else the Hugging Face login on a Space (`gr.OAuthProfile`), else the caller's anonymous
`session_id` (the page's `gr.BrowserState`), marked unverified. A name is never taken from
a value the client sends.
"""

import gradio as gr

from albert_demo.campaigns import identity, masking
from albert_demo.presets.registry import EMBEDDED_PRESET
from albert_demo.ui.errors import user_errors

Profile = gr.OAuthProfile | None  # Gradio fills it from its signed session; None: no login


def who(service, request, session_id, profile):
    """The annotator: the request's login (users file), its Hugging Face login, else the
    caller's anonymous `session_id` (unverified)."""
    return identity.from_request(request, session_id, profile, service.owners)


# Every /campaign_* endpoint: (queued, owner only). Short transactions skip the queue;
# model runs and whole-campaign reads queue. Owner-only ones refuse anyone else
# (`policies.require_owner`); tests/campaigns/test_campaign_page.py checks each of them.
ENDPOINTS = {
    "campaign_list": (False, False), "campaign_create": (True, False),
    "campaign_next": (False, False), "campaign_submit": (False, False),
    "campaign_skip": (False, False), "campaign_flag": (False, False),
    "campaign_undo": (False, False), "campaign_agreement": (True, True),
    "campaign_review": (True, True), "campaign_adjudicate": (False, True),
    "campaign_evaluate": (True, True), "campaign_export": (True, True),
    "campaign_export_download": (True, True),  # the page's Export button, same endpoint
}


def add_campaign_api(service, exports_dir):
    """The /campaign_* endpoints for programs (gradio_client). The annotator is the
    request's login, else its `session_id` (required then, unverified): any private string
    the caller keeps, as for the other stateful endpoints. Not on the API page
    (ui/public_api.py): gradio_client passes every argument, positionally. Long only
    because it holds one short function per endpoint."""

    @user_errors
    def campaign_list(session_id: str = "", request: gr.Request = None,
                      profile: Profile = None) -> list:
        """Every campaign with its settings and progress (yours and the campaign's)."""
        return service.list(who(service, request, session_id, profile))

    @user_errors
    def campaign_create(name: str, sentences: str, fmt: str = "txt",
                        presets: list[str] | str = EMBEDDED_PRESET, top_k: int = 5,
                        overlap: int = 3, guidelines: str = "",
                        mask_strategy: str = masking.DEFAULT,
                        masks_per_sentence: int = 1, mask_words: str = "",
                        lease_seconds: int = 600, session_id: str = "",
                        request: gr.Request = None, profile: Profile = None) -> dict:
        """A campaign from the text of a file (fmt: txt, csv or jsonl). Sentences without
        [MASK] get masks from mask_strategy: least_sure (default, the words the model is
        least sure about), random, words (from mask_words) or none (every sentence has
        [MASK]); the page's labels for them work too."""
        if not isinstance(sentences, str):
            raise gr.Error("sentences must be the text of a .txt, .csv or .jsonl file.")
        return service.create(
            who(service, request, session_id, profile), name,
            source=sentences.encode("utf-8", "surrogatepass"), fmt=fmt, presets=presets,
            top_k=top_k, overlap=overlap, guidelines=guidelines,
            masking={"strategy": mask_strategy, "per_sentence": masks_per_sentence,
                     "words": mask_words}, lease_seconds=lease_seconds)

    @user_errors
    def campaign_next(campaign_id: int, session_id: str = "", request: gr.Request = None,
                      profile: Profile = None) -> dict:
        """The item leased to you (renewed), else the next open one; item_id null when none."""
        return service.next(who(service, request, session_id, profile), campaign_id)

    @user_errors
    def campaign_submit(campaign_id: int, item_id: int, answers: list, session_id: str = "",
                        request: gr.Request = None, profile: Profile = None) -> dict:
        """answers: per [MASK] {"accepted": [candidate words], "typed": word or null}."""
        annotator = who(service, request, session_id, profile)
        return service.submit(annotator, campaign_id, item_id, answers)

    @user_errors
    def campaign_skip(campaign_id: int, item_id: int, session_id: str = "",
                      request: gr.Request = None, profile: Profile = None) -> dict:
        """Pass on a leased item (it will not come back to you; undo brings it back)."""
        return service.skip(who(service, request, session_id, profile), campaign_id, item_id)

    @user_errors
    def campaign_flag(campaign_id: int, item_id: int, note: str = "", session_id: str = "",
                      request: gr.Request = None, profile: Profile = None) -> dict:
        """Pass on a leased item and tell the owner why."""
        return service.flag(who(service, request, session_id, profile), campaign_id, item_id, note)

    @user_errors
    def campaign_undo(campaign_id: int, session_id: str = "", request: gr.Request = None,
                      profile: Profile = None) -> dict:
        """Take back your latest answer; its item is leased to you again ("previous")."""
        return service.undo(who(service, request, session_id, profile), campaign_id)

    @user_errors
    def campaign_agreement(campaign_id: int, session_id: str = "",
                           request: gr.Request = None, profile: Profile = None) -> dict:
        """Owner: percent agreement, Krippendorff's alpha, per annotator, model accuracy."""
        return service.agreement(who(service, request, session_id, profile), campaign_id)

    @user_errors
    def campaign_review(campaign_id: int, limit: int = 50, session_id: str = "",
                        request: gr.Request = None, profile: Profile = None) -> list:
        """Owner: items with disagreement, no majority, or a flag; unsettled first."""
        return service.review(who(service, request, session_id, profile), campaign_id, limit)

    @user_errors
    def campaign_adjudicate(campaign_id: int, item_id: int, gold: list, session_id: str = "",
                            confirm_own_word: bool = False, request: gr.Request = None,
                            profile: Profile = None) -> dict:
        """Owner: the gold word per [MASK] (null leaves that mask to the majority). A word
        no annotator picked needs confirm_own_word=true (recorded as the owner's own)."""
        annotator = who(service, request, session_id, profile)
        return service.adjudicate(annotator, campaign_id, item_id, gold,
                                  confirm_own_word=bool(confirm_own_word))

    @user_errors
    def campaign_evaluate(campaign_id: int, presets: list[str] | None = None,
                          session_id: str = "", request: gr.Request = None,
                          profile: Profile = None) -> list:
        """Owner: top-1 / top-5 of presets (default: the campaign's) on the gold so far."""
        annotator = who(service, request, session_id, profile)
        return service.evaluate(annotator, campaign_id, presets)

    @user_errors
    def campaign_export(campaign_id: int, session_id: str = "", request: gr.Request = None,
                        profile: Profile = None) -> dict:
        """Owner: write the datasets export on the server; what it holds (no server paths:
        /campaign_export_download returns the zip itself, to the owner only)."""
        annotator = who(service, request, session_id, profile)
        written = service.export(annotator, campaign_id, exports_dir)
        return {k: v for k, v in written.items() if k not in ("folder", "zip")}

    for fn in (campaign_list, campaign_create, campaign_next, campaign_submit, campaign_skip,
               campaign_flag, campaign_undo, campaign_agreement, campaign_review,
               campaign_adjudicate, campaign_evaluate, campaign_export):
        queued, _ = ENDPOINTS[fn.__name__]
        gr.api(fn, api_name=fn.__name__, **({} if queued else {"queue": False}))
