"""The app's one error boundary: a `UserError` reaches the page and API clients with its
message; anything else is logged and reported as a server fault."""

import functools
import html
import logging

import gradio as gr

from albert_demo.errors import UserError

log = logging.getLogger("albert_demo.ui")


def user_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except UserError as error:
            # The modal renders HTML and messages may quote user input (a preset name).
            raise gr.Error(html.escape(str(error), quote=False),
                           print_exception=False) from None
        except Exception as error:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(error).__name__}); the details "
                           "are in the server log.", print_exception=False) from None
    return wrapper
