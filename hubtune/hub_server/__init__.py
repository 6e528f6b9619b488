"""A local Hugging-Face-Hub-compatible server (Starlette + uvicorn, SQLite + content-addressed blobs).

It speaks the subset of the Hub protocol that ``huggingface_hub`` 2.x uses with Xet disabled, for models, datasets
and Spaces: repo creation, moving and duplication, preupload, git-LFS uploads, NDJSON commits, branches, file
resolution, repo info (safetensors parameter counts included), trees (with last commits), commit listings,
``list_models`` filters, the caller's repo list, Space variables and ``whoami``. Used for offline work (``hubtune hub serve``) and by every Hub test.

Example::

    from hubtune.hub_server import HubServer

    with HubServer(Path("hub-data"), tokens={"secret-token": "alice"}) as server:
        os.environ["HF_ENDPOINT"] = server.url  # before importing huggingface_hub, with HF_HUB_DISABLE_XET=1
"""

from .errors import (
    AuthenticationRequired,
    Conflict,
    EntryNotFound,
    Forbidden,
    HubServerError,
    InvalidRequest,
    RepoNotFound,
    RevisionNotFound,
)
from .faults import FAULTS_ENV_VAR, FaultPlan
from .server import HubServer, serve
from .store import LFS_SIZE_THRESHOLD, HubStore

__all__ = [
    "FAULTS_ENV_VAR",
    "LFS_SIZE_THRESHOLD",
    "AuthenticationRequired",
    "Conflict",
    "EntryNotFound",
    "FaultPlan",
    "Forbidden",
    "HubServer",
    "HubServerError",
    "HubStore",
    "InvalidRequest",
    "RepoNotFound",
    "RevisionNotFound",
    "serve",
]
