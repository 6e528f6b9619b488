"""Model-card metadata: the YAML front matter of a README and the tags the Hub derives from it.

Example::

    from hubtune.hub_server.metadata import card_tags, parse_front_matter

    card = parse_front_matter("---\nlicense: mit\ntags: [dna]\n---\n# Card\n")
    card_tags(card, "model")  # ['dna', 'license:mit']
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .bodies import MAX_METADATA_NODES, MAX_NESTING, check_structure
from .errors import InvalidRequest

_FRONT_MATTER_RE = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)(?:\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def parse_front_matter(text: str) -> dict[str, Any] | None:
    """The YAML metadata block at the top of a README, or None if there is none.

    Raises ``InvalidRequest`` when the block exists but is not a YAML mapping, nests too deeply or expands (through
    aliases) to too many values.
    """
    match = _FRONT_MATTER_RE.match(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"Invalid YAML in README.md metadata: {exc}") from exc
    except RecursionError as exc:
        raise InvalidRequest(f"README.md metadata is nested more than {MAX_NESTING} levels deep.") from exc
    check_structure(data, "README.md metadata", max_nodes=MAX_METADATA_NODES)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("README.md metadata must be a YAML mapping (key: value pairs).")
    return data


def card_tags(card: dict[str, Any] | None, repo_type: str) -> list[str]:
    """The tag list the Hub derives from card metadata: tags, library, pipeline, license, datasets, base model."""
    if not card:
        return []
    tags: list[str] = []

    def add(value: Any, prefix: str = "") -> None:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item).strip():
                tag = prefix + str(item).strip()
                if tag not in tags:
                    tags.append(tag)

    add(card.get("tags"))
    if repo_type == "model":
        add(card.get("library_name"))
        add(card.get("pipeline_tag"))
        base = card.get("base_model")
        add(base, "base_model:")
        if card.get("library_name") == "peft":
            add(base, "base_model:adapter:")
        add(card.get("datasets"), "dataset:")
    else:
        add(card.get("task_categories"), "task_categories:")
    add(card.get("language"))
    add(card.get("license"), "license:")
    return tags


