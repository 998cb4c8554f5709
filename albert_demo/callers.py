"""Who is asking: the caller's session id, which every stateful request must carry.

A browser gets one from the page (a random id kept in its storage); an API client sends its
own (any private string, e.g. a uuid4). There is no shared default: an empty id used to make
every API caller one owner, who could read and cancel each other's work.
"""

from albert_demo.engine.errors import InputError, text_or_none

MAX_SESSION_CHARS = 128


def caller_id(session_id, required=True):
    """The caller's id, stripped; None only when `required` is False and none was sent."""
    session_id = (text_or_none(session_id, "session_id") or "").strip()
    if not session_id:
        if not required:
            return None
        raise InputError("This request needs your session_id: any private string you keep "
                         "(e.g. a uuid4), sent with every request that reads or changes your "
                         "data. In the browser, reload the page to get one.")
    if len(session_id) > MAX_SESSION_CHARS or not session_id.isprintable():
        raise InputError(f"session_id must be printable text of at most {MAX_SESSION_CHARS} "
                         "characters.")
    return session_id
