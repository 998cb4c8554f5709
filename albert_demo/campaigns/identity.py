"""Who is annotating: a login becomes an annotator id; never a name the client sends.

In order: Gradio's own login (`app.py --users users.txt`: `gr.Request.username`), then the
Hugging Face login on a Space (`gr.OAuthProfile`, filled in by Gradio from its signed
session cookie), both verified. Without either, the app's anonymous browser session id (the
`gr.BrowserState` the Annotations tab uses too; API callers send their own `session_id`)
stands in, marked unverified. It survives a reload, so "yours" and your campaigns stay;
it is stored only as a hash, so an owner reading answers cannot take over the session.

    annotator = identity.from_request(request, session_id, profile, owners={"alice"})
    annotator.id        # "user:alice", "hf:alice" or "anon:3f9c0b12a4d7e6f1"

Owners (the users file's ':owner' lines and ALBERT_DEMO_CAMPAIGN_OWNERS) may create
campaigns; when nobody is named an owner, anyone may.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from albert_demo.campaigns.errors import CampaignError
from albert_demo.callers import caller_id


@dataclasses.dataclass(frozen=True)
class Annotator:
    id: str                 # stored with every judgment
    name: str               # shown in the page
    verified: bool          # a login vouches for it
    may_create: bool        # may create campaigns (owners; anyone when none are named)

    @classmethod
    def user(cls, name: str, owner: bool = False) -> "Annotator":
        """A login from the users file (Gradio's `--users`)."""
        return cls(f"user:{name}", name, True, bool(owner))

    @classmethod
    def hf(cls, username: str, owner: bool = False) -> "Annotator":
        """A Hugging Face login on a Space."""
        return cls(f"hf:{username}", username, True, bool(owner))

    @classmethod
    def anonymous(cls, session: str, may_create: bool = True) -> "Annotator":
        """A browser (or API caller) by its session id, which is never stored or shown."""
        digest = hashlib.sha256(f"albert-demo-annotator:{session}".encode()).hexdigest()[:16]
        return cls(f"anon:{digest}", f"anonymous {digest[:6]}", False, bool(may_create))


def shown_name(annotator_id: str) -> str:
    """What the page shows for a stored annotator id: "user:alice" -> "alice"."""
    return annotator_id.split(":", 1)[1] if ":" in annotator_id else annotator_id


def hf_username(profile) -> str | None:
    """The username of a `gr.OAuthProfile` (Gradio fills it from the signed session; a
    dict-like with "preferred_username"), or None when nobody is logged in."""
    if profile is None:
        return None
    name = getattr(profile, "username", None)
    if name is None and hasattr(profile, "get"):
        name = profile.get("preferred_username")
    return str(name).strip() or None if name else None


def from_request(request, session_id=None, profile=None, owners=frozenset()) -> Annotator:
    """The annotator behind a Gradio request: its login (users file, else Hugging Face),
    else its anonymous session id, unverified (an empty one is refused)."""
    owners = frozenset(owners)
    username = getattr(request, "username", None) if request is not None else None
    if username:
        name = str(username)
        return Annotator.user(name, owner=name in owners or not owners)
    name = hf_username(profile)
    if name:
        return Annotator.hf(name, owner=name in owners or not owners)
    return Annotator.anonymous(caller_id(session_id), may_create=not owners)


def read_users_file(path) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """`name:password[:owner]` per line -> (Gradio auth pairs, owner names)."""
    pairs, owners = [], set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.strip().split(":")
        if len(fields) not in (2, 3) or not fields[0] or not fields[1] or (
                len(fields) == 3 and fields[2] != "owner"):
            raise CampaignError(f"{path} line {number}: expected 'name:password' or "
                                "'name:password:owner'.")
        pairs.append((fields[0], fields[1]))
        if len(fields) == 3:
            owners.add(fields[0])
    if not pairs:
        raise CampaignError(f"{path} names no users: one 'name:password' per line.")
    return pairs, frozenset(owners)
