"""Who may do what in a campaign, in one place (the work itself is in `creation`, `queue`
and `review`). Each rule raises the error a person is shown, or returns nothing.

- Creating a campaign: owners (the users file's ':owner' lines, ALBERT_DEMO_CAMPAIGN_OWNERS);
  anyone when nobody is named.
- Annotating: anyone who can reach the campaign, one answer per item, only on an item
  leased to them whose lease has not run out.
- Agreement, dashboard, review, adjudication, evaluation, gold sentences, export, push:
  the campaign's owner only.
"""

from __future__ import annotations

from albert_demo.campaigns.errors import NotAllowed, NotLeased
from albert_demo.campaigns.identity import Annotator, shown_name


def require_creator(annotator: Annotator) -> None:
    if not annotator.may_create:
        raise NotAllowed(f"{annotator.name} may annotate but not create campaigns: "
                         "ask an owner (':owner' in the users file).")


def require_owner(campaign: dict, annotator: Annotator, action: str) -> None:
    if campaign["owner"] != annotator.id:
        raise NotAllowed(f"Only the owner of campaign #{campaign['id']} "
                         f"({shown_name(campaign['owner'])}) may {action}.")


def require_live_lease(lease, item: dict, campaign: dict, now) -> None:
    """An answer needs the item leased to this annotator, and the lease not run out (the
    item may have gone to someone else since: an expired lease answers like none)."""
    if lease is None:
        raise NotLeased(f"Item #{item['id']} is not leased to you (it was never "
                        "handed to you, or you answered it already): take the "
                        "next item.")
    if lease.expires_at <= now:
        raise NotLeased(f"Your lease on item #{item['id']} ran out (leases last "
                        f"{_duration(campaign['lease_seconds'])}) and the item "
                        "may have gone to someone else: take the next item.")


def _duration(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"
