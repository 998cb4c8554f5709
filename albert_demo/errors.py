"""The one base class for mistakes a person can fix.

Everything raised for a person (bad text, unknown preset, untrusted checkpoint, invalid
annotation, unusable upload, too little disk) derives from `UserError`, so the app's single
error boundary shows its message as is and treats anything else as a server fault.
"""


class UserError(Exception):
    """The request cannot be served as asked; the message says what to change."""
