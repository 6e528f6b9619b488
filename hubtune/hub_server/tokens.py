"""Where the local Hub server's tokens come from: a token file, the environment or the command line.

A token file has one ``TOKEN:USER`` per line; blank lines and lines starting with ``#`` are skipped. Tokens given
on the command line are visible to every local user (``ps``), so :func:`command_line_warning` says so. No message
here ever contains a token: a bad line is named by its file and line number only.

Example::

    from hubtune.hub_server.tokens import read_token_file, tokens_from_env

    tokens = read_token_file(Path("tokens.txt")) or tokens_from_env()
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from hubtune.errors import ConfigError

# Without a token file or --token, HF_TOKEN becomes the token of this user (HUBTUNE_HUB_USER, default "demo").
TOKEN_ENV_VAR = "HF_TOKEN"
USER_ENV_VAR = "HUBTUNE_HUB_USER"
DEFAULT_ENV_USER = "demo"


def parse_token_spec(spec: str, where: str) -> tuple[str, str]:
    """``(token, user)`` from ``TOKEN:USER``; ``ConfigError`` naming ``where`` (never the token) otherwise.

    Example: ``parse_token_spec("secret-token:alice", "--token")`` is ``("secret-token", "alice")``.
    """
    token, _, user = spec.strip().rpartition(":")
    if not token.strip() or not user.strip():
        raise ConfigError(f"{where}: expected TOKEN:USERNAME (the token, a colon, then the user name).")
    return token.strip(), user.strip()


def read_token_file(path: Path) -> dict[str, str]:
    """``token -> user`` from a file of ``TOKEN:USER`` lines (``#`` comments and blank lines skipped).

    Example: ``read_token_file(Path("tokens.txt"))``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the token file '{path}': {exc.__class__.__name__}.") from exc
    tokens: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        token, user = parse_token_spec(line, f"{path}, line {number}")
        if token in tokens and tokens[token] != user:
            raise ConfigError(f"{path}, line {number}: this token is already given to another user.")
        tokens[token] = user
    if not tokens:
        raise ConfigError(f"The token file '{path}' holds no TOKEN:USERNAME line.")
    return tokens


def token_file_warning(path: Path) -> str | None:
    """A warning when other users of the machine may read the token file, else None.

    Example: ``token_file_warning(Path("tokens.txt"))``.
    """
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"warning: the token file '{path}' is readable by other users; restrict it with chmod 600."
    return None


def tokens_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{HF_TOKEN: HUBTUNE_HUB_USER or "demo"}`` when ``HF_TOKEN`` is set, else ``{}``.

    Example: ``tokens_from_env({"HF_TOKEN": "secret", "HUBTUNE_HUB_USER": "alice"})`` is ``{"secret": "alice"}``.
    """
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV_VAR, "").strip()
    return {token: env.get(USER_ENV_VAR, "").strip() or DEFAULT_ENV_USER} if token else {}


def command_line_warning() -> str:
    """The warning printed when tokens are given with ``--token``.

    Example: ``print(command_line_warning(), file=sys.stderr)``.
    """
    return (
        "warning: tokens given with --token are visible to every user of this machine (ps, shell history); "
        "prefer --token-file FILE (lines TOKEN:USERNAME, chmod 600) or the HF_TOKEN variable."
    )
