"""What a person did wrong with a campaign, said so they can fix it. Nothing is changed
when one of these is raised."""

from albert_demo.engine.errors import InputError


class CampaignError(InputError):
    """A bad request about a campaign: a bad file, a bad setting, a bad answer."""


class NotFound(CampaignError):
    """No campaign or item with that id (or not one this person may see)."""


class NotLeased(CampaignError):
    """An answer for an item that is not leased to this annotator."""


class NotAllowed(CampaignError):
    """The action needs the campaign's owner."""
