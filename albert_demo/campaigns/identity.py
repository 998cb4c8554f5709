"""Who is annotating: a login becomes an annotator id; never a value the client sends.

With Gradio's login (`app.py --users users.txt`, or Hugging Face OAuth on a Space) the
annotator is the logged-in name, verified. Without one, the browser's session (Gradio's
session hash) stands in, marked unverified, so anonymous use keeps working.

    annotator = identity.from_request(request, owners={"alice"})
    annotator.id        # "user:alice" or "anon:3f9c..."
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from albert_demo.campaigns.errors import CampaignError


@dataclasses.dataclass(frozen=True)
class Annotator:
    id: str                 # stored with every judgment
    name: str               # shown in the page
    verified: bool          # a login vouches for it
    may_create: bool        # may create campaigns (owners; anyone when nobody logs in)

    @classmethod
    def user(cls, name: str, owner: bool = False) -> "Annotator":
        return cls(f"user:{name}", name, True, bool(owner))

    @classmethod
    def anonymous(cls, session: str) -> "Annotator":
        return cls(f"anon:{session}", f"anonymous {session[:6]}", False, True)


def from_request(request, owners=frozenset()) -> Annotator:
    """The annotator behind a Gradio request: its login, else its session, unverified."""
    username = getattr(request, "username", None) if request is not None else None
    if username:
        return Annotator.user(str(username), owner=str(username) in owners)
    session = getattr(request, "session_hash", None) if request is not None else None
    if not session:
        raise CampaignError("No login and no browser session: open the app in a browser "
                            "or log in to annotate.")
    return Annotator.anonymous(str(session))


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
