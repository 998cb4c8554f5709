"""Annotation campaigns: a team turns a pile of sentences into an agreed dataset.

Domain only (no Gradio). `service.CampaignService` is the one object the app builds; its
work is split by job: `creation` (items from a file or annotations, masks, predictions),
`queue` (leases, answers, undo), `review` (the owner's figures, review, adjudication,
evaluation, export), on `records` (rows read by every job, progress counted from them).
Who may do what: `policies`; what a request must look like: `checks`. Also `agreement`
(the figures and what they mean), `identity` (a login becomes an annotator id), `sources`
and `masking` (where items come from), `export` (datasets folder, zip, Hub push), `schema`
(tables and migrations).
"""

from albert_demo.campaigns.errors import CampaignError, NotAllowed, NotFound, NotLeased
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.service import CampaignService

__all__ = ["Annotator", "CampaignError", "CampaignService", "NotAllowed", "NotFound",
           "NotLeased"]
