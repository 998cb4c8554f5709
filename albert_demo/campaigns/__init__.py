"""Annotation campaigns: a team turns a pile of sentences into an agreed dataset.

Domain only (no Gradio): `service.CampaignService` (create, queue with leases, judgments,
review/adjudication, export), `agreement` (percent agreement, Krippendorff's alpha),
`identity` (a login becomes an annotator id), `sources` and `masking` (where items come
from), `export` (datasets folder, zip, Hub push), `schema` (tables and migrations).
"""

from albert_demo.campaigns.errors import CampaignError, NotAllowed, NotFound, NotLeased
from albert_demo.campaigns.identity import Annotator
from albert_demo.campaigns.service import CampaignService

__all__ = ["Annotator", "CampaignError", "CampaignService", "NotAllowed", "NotFound",
           "NotLeased"]
