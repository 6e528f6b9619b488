"""Sharing runs on a Hub: push a run as one commit with its model card, list hubtune adapters, download a repo,
deploy the Space with hubtune inside it.

Example:
    >>> from hubtune.hub import push_to_hub, list_adapters
    >>> push_to_hub("runs/tata-lora", "alice/nt2-50m-tata-lora")  # doctest: +SKIP
    >>> [a.repo_id for a in list_adapters(base_model="tiny-nt")]  # doctest: +SKIP
"""

from __future__ import annotations

from .discover import AdapterInfo, download_repo, list_adapters
from .errors import hub_errors
from .push import MANAGED_FILES, public_run_info, publish_base, push_to_hub
from .space_deploy import SPACE_ADAPTERS_VARIABLE, SpaceDeployment, deploy_space

__all__ = ["MANAGED_FILES", "SPACE_ADAPTERS_VARIABLE", "AdapterInfo", "SpaceDeployment", "deploy_space",
           "download_repo", "hub_errors", "list_adapters", "public_run_info", "publish_base", "push_to_hub"]
