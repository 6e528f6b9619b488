"""Translating what the Hub client raises into one-paragraph `HubError`s, and Hub transport settings.

Every call to a hub goes through `hub_errors(...)`: HTTP and network exceptions become a `HubError` that names the
action, the endpoint and the fix, never showing a token or a signed upload link.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..errors import HubError

NO_TOKEN_MESSAGE = (
    "No Hub token found: pushing needs a token with write access. Pass token=... (--token), set HF_TOKEN, or log "
    "in with `hf auth login`."
)


def network_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the hub could not be reached" (transport errors of the client, OS errors)."""
    from huggingface_hub import errors as hf_errors

    transport = getattr(hf_errors, "HTTPError", None)  # the HTTP library's base error, re-exported by the client
    return tuple(e for e in (transport, OSError, ConnectionError) if isinstance(e, type))


def endpoint_of(api: Any) -> str:
    """The URL an `HfApi` talks to (its endpoint, HF_ENDPOINT, or huggingface.co)."""
    return str(getattr(api, "endpoint", None) or os.environ.get("HF_ENDPOINT") or "https://huggingface.co")


@contextlib.contextmanager
def hub_errors(action: str, endpoint: str, *, repo_id: str | None = None, user: str | None = None) -> Iterator[None]:
    """Turn the client's HTTP and network exceptions into one-paragraph HubErrors (never showing a token)."""
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalTokenNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        yield
    except HubError:
        raise
    except RevisionNotFoundError:
        raise HubError(f"Could not {action}: the revision does not exist in {repo_id} on {endpoint}.") from None
    except RepositoryNotFoundError:
        raise HubError(
            f"Could not {action}: {repo_id} was not found on {endpoint} (or it is private and the token cannot read "
            "it). Check the repo id, HF_ENDPOINT and the token."
        ) from None
    except LocalTokenNotFoundError:
        raise HubError(NO_TOKEN_MESSAGE) from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        server_message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if status == 401:
            raise HubError(
                f"Could not {action}: {endpoint} rejected the token (401 Unauthorized). Check HF_TOKEN / --token, or "
                "log in again with `hf auth login`."
            ) from None
        if status == 403:
            who = f"user {user!r}" if user else "this token"
            raise HubError(
                f"Could not {action}: {who} may not write to {repo_id} on {endpoint} (403 Forbidden). Push to your "
                "own namespace or an organisation you belong to, with a write token."
            ) from None
        if status == 400:
            raise HubError(f"Could not {action}: {endpoint} refused the request (400): {server_message}") from None
        raise HubError(
            f"Could not {action}: {endpoint} answered {status or 'an error'} ({server_message}). Nothing was changed "
            "by this push; try again later."
        ) from None
    except network_errors() as exc:
        raise HubError(
            f"Could not {action}: cannot reach {endpoint} ({type(exc).__name__}: {exc}). Check the network and "
            "HF_ENDPOINT (for a local hub: is `hubtune hub serve` running?). Nothing was pushed by this step."
        ) from None
    except RuntimeError as exc:
        failed_file = _failed_upload(exc)
        if failed_file is None:
            raise
        # The client wraps any failure of an LFS upload (network, or an HTTP error such as the 403 of an upload
        # link a restarted server no longer accepts) in this RuntimeError; the commit itself was never sent, so
        # this is never a permission problem and re-running the push fixes it.
        raise HubError(
            f"Could not {action}: upload of {failed_file} to {endpoint} failed: {_describe_cause(exc.__cause__)}; "
            "nothing was committed; re-run the push."
        ) from None


_UPLOAD_FAILED_RE = re.compile(r"^Error while uploading '(?P<path>.+)' to the Hub\.?$")
_URL_RE = re.compile(r"\bhttps?://\S+")


def _failed_upload(exc: RuntimeError) -> str | None:
    """The repo path of the file whose upload failed, when `exc` is the client's wrapper of an LFS upload error."""
    match = _UPLOAD_FAILED_RE.match(str(exc).strip())
    return match.group("path") if match else None


def _describe_cause(cause: BaseException | None) -> str:
    """A short, link-free description of why an upload failed (upload links carry a signature: never show them)."""
    if cause is None:
        return "the client gave no reason"
    status = getattr(getattr(cause, "response", None), "status_code", None)
    detail = getattr(cause, "server_message", None) or (str(cause).splitlines() or [""])[0]
    detail = _URL_RE.sub("<upload link>", detail).strip()[:200]
    head = f"{status} from the server" if status else type(cause).__name__
    return f"{head} ({detail})" if detail else head


@contextlib.contextmanager
def lfs_uploads_for(endpoint: str) -> Iterator[None]:
    """Upload through git-LFS (not Xet) when the hub is not huggingface.co: Hub-compatible servers speak LFS only.

    The client reads HF_HUB_DISABLE_XET once at import; a process that imported it without the variable would
    otherwise ask a local hub for a Xet token and fail.
    """
    from huggingface_hub import constants

    host = (urlsplit(endpoint).hostname or "").lower()
    if host == "huggingface.co" or host.endswith((".huggingface.co", ".hf.co")) or constants.HF_HUB_DISABLE_XET:
        yield
        return
    constants.HF_HUB_DISABLE_XET = True
    try:
        yield
    finally:
        constants.HF_HUB_DISABLE_XET = False




__all__ = ["NO_TOKEN_MESSAGE", "endpoint_of", "hub_errors", "lfs_uploads_for", "network_errors"]
