"""``python -m hubtune.hub_server``: run the local hub in the foreground (same options as ``hubtune hub serve``).

Example::

    python -m hubtune.hub_server --root hub-data --port 8765 --token secret-token:alice
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hubtune.errors import HubtuneError

from .server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse the options and serve until Ctrl+C; returns the exit code (2 for a user mistake)."""
    parser = argparse.ArgumentParser(prog="python -m hubtune.hub_server", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.expanduser("~/.cache/hubtune/hub"), help="folder of the hub's data")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default: 8765)")
    parser.add_argument("--token", action="append", metavar="TOKEN:USER", help="a token and its user; repeatable")
    args = parser.parse_args(argv)
    tokens = {}
    for item in args.token or []:
        token, _, user = item.partition(":")
        if not token or not user:
            parser.error("--token must look like TOKEN:USERNAME")
        tokens[token] = user
    try:
        serve(Path(args.root), host=args.host, port=args.port, tokens=tokens)
    except HubtuneError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
