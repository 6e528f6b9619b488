"""What a Space visitor may read of an error: hubtune's own messages with server paths and hub URLs removed, and one
short generic sentence for anything unexpected (the details go to the server log only)."""

from __future__ import annotations

import logging
import re

from ..errors import HubtuneError

GENERIC_ERROR = "Something went wrong on the server while handling this request. It has been logged; try again later."
# http(s) URLs: the internal hub endpoint, signed links. Replaced as a whole.
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"()<>]+")
# Absolute POSIX paths (also ~/...) with at least one folder, and Windows paths: reduced to their last component.
_POSIX_PATH_RE = re.compile(r"(?<![\w./-])~?/(?:[^\s/'\"():,;<>]+/)+([^\s/'\"():,;<>]*)")
_WINDOWS_PATH_RE = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"():,;<>]+\\)*([^\s\\'\"():,;<>]*)")

log = logging.getLogger("hubtune.space")


def scrub_message(text: str) -> str:
    """Remove URLs and server paths from a message: a URL becomes "the hub", a path its last component.

    Example:
        >>> scrub_message("Could not read alice/x on http://127.0.0.1:5123 (see /srv/cache/models--a/config.json)")
        'Could not read alice/x on the hub (see config.json)'
    """
    text = _URL_RE.sub("the hub", str(text))
    text = _POSIX_PATH_RE.sub(lambda m: m.group(1) or "a folder", text)
    return _WINDOWS_PATH_RE.sub(lambda m: m.group(1) or "a folder", text)


def public_message(exc: BaseException) -> str:
    """The text a visitor sees for `exc`: a hubtune error's message, scrubbed; anything else one generic sentence
    (logged here with its traceback).

    Example:
        >>> public_message(ValueError("/srv/secret/path exploded"))
        'Something went wrong on the server while handling this request. It has been logged; try again later.'
    """
    if isinstance(exc, HubtuneError):
        return scrub_message(str(exc))
    log.error("unexpected error while serving a request", exc_info=exc)
    return GENERIC_ERROR


__all__ = ["GENERIC_ERROR", "public_message", "scrub_message"]
