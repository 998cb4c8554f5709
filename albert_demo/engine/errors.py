class InputError(ValueError):
    """The request itself is wrong; the message tells the person what to change."""
