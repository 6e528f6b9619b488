"""Running the local Hub server with uvicorn: in a background thread (:class:`HubServer`, for tests, the demo and
other in-process use) or in the foreground (:func:`serve`, behind ``hubtune hub serve``).

The listening socket is bound before uvicorn starts, so a busy port is reported at once and ``port=0`` gives a free
port that is known right away.

Example::

    with HubServer(Path("hub-data"), tokens={"secret-token": "alice"}) as server:
        os.environ["HF_ENDPOINT"] = server.url  # before importing huggingface_hub, with HF_HUB_DISABLE_XET=1
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from hubtune.errors import ConfigError, HubError

from .app import build_app
from .auth import check_tokens
from .faults import FaultPlan
from .store import HubStore
from .web import DEFAULT_MAX_BODY_BYTES, HubContext

logger = logging.getLogger("hubtune.hub_server")

# Idle keep-alive connections are closed after this many seconds; stop() waits at most this long for requests.
KEEP_ALIVE_S = 300
GRACEFUL_STOP_S = 5
START_TIMEOUT_S = 30


class HubServer:
    """A local Hugging-Face-Hub-compatible server over a folder, for offline use and tests.

    Args:
        root: Folder holding ``hub.sqlite`` and ``blobs/``; created if missing, reused if it exists.
        host: Interface to bind; loopback unless you mean to share the server.
        port: TCP port; 0 picks a free one (read it back from ``.port``).
        tokens: ``token -> user name``. Without tokens every repo is read-only.
        faults: Faults to inject; defaults to the plan in ``HUBTUNE_HUB_FAULTS`` (none when unset).
        max_body_bytes: Largest request body accepted, counted as received whatever the framing: a commit payload
            or one LFS object (JSON bodies are capped lower still). Larger bodies get 413, unread when announced.

    Use as a context manager or call ``start()`` / ``stop()``; ``run()`` serves in the foreground instead. Point the
    client at it with ``HF_ENDPOINT=server.url`` and ``HF_HUB_DISABLE_XET=1`` set before ``huggingface_hub`` is
    imported.

    Example::

        server = HubServer(Path("hub-data"), tokens={"secret-token": "alice"}).start()
        HfApi(endpoint=server.url, token="secret-token").create_repo("alice/demo")
        server.stop()
    """

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens: dict[str, str] | None = None,
        faults: FaultPlan | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise ConfigError(f"The local hub's body limit must be a positive number of bytes, got {max_body_bytes!r}.")
        self.max_body_bytes = max_body_bytes
        self.root = Path(root)
        self.host = host
        self._requested_port = port
        self.tokens = check_tokens(tokens or {})
        self.faults = faults if faults is not None else FaultPlan.from_env()
        self.store: HubStore | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the listening socket is bound to; only while the server is started."""
        if self._socket is None:
            raise HubError("The local hub is not running: call start() first.")
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def port(self) -> int:
        """The bound port (after ``start()``), else the requested one."""
        return self.address[1] if self._socket is not None else self._requested_port

    @property
    def url(self) -> str:
        """Base URL to use as ``HF_ENDPOINT``."""
        host = self.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def _open(self) -> uvicorn.Server:
        """Open the store, bind the socket and build the uvicorn server (nothing is served yet)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self.store = HubStore(self.root)
        except OSError as exc:
            raise HubError(
                f"Cannot use '{self.root}' as the local hub folder: {exc}. Pick a writable folder with --root."
            ) from exc
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            self._socket = socket.create_server((self.host, self._requested_port), family=family)
        except OSError as exc:
            self.store.close()
            self.store = None
            raise HubError(
                f"Cannot listen on {self.host}:{self._requested_port}: {exc}. "
                "Another process may use this port; pick another with --port (0 picks a free one)."
            ) from exc
        context = HubContext(self.store, self.url, max_body_bytes=self.max_body_bytes)
        app = build_app(context, self.tokens, self.faults)
        config = uvicorn.Config(
            app,
            http="h11",  # strict HTTP/1.1 parsing (chunk sizes, Content-Length) whatever else is installed
            log_config=None,  # leave logging to the host program
            access_log=False,  # ours never logs the query string (upload links carry a signature there)
            lifespan="off",
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            timeout_graceful_shutdown=GRACEFUL_STOP_S,
        )
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> HubServer:
        """Bind and serve in a background thread; returns self once the server accepts requests."""
        if self._server is not None:
            return self
        server = self._open()
        sockets = [self._socket]
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": sockets}, name="hubtune-hub-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise HubError(f"The local hub at {self.url} did not start; see the log of 'hubtune.hub_server'.")
            time.sleep(0.01)
        logger.info("local hub serving %s at %s", self.root, self.url)
        return self

    def run(self, on_ready: Callable[[HubServer], None] | None = None) -> None:
        """Serve in the foreground until interrupted (Ctrl+C or SIGTERM), then close everything.

        ``on_ready`` is called once the socket listens (``url`` and ``port`` are final), before serving starts.
        """
        if self._server is not None:
            raise HubError("The local hub is already running in the background; call stop() first.")
        server = self._open()
        try:
            if on_ready is not None:
                on_ready(self)
            server.run(sockets=[self._socket])
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close open connections and the database."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_STOP_S + 5)
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._server = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    tokens: dict[str, str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Run the local hub in the foreground until interrupted (Ctrl+C); prints the URL (never a token) once listening.

    Example: ``serve(Path("hub-data"), port=8765, tokens={"secret-token": "alice"})``.
    """
    server = HubServer(root, host=host, port=port, tokens=tokens, max_body_bytes=max_body_bytes)

    def announce(ready: HubServer) -> None:
        users = sorted(set(ready.tokens.values()))
        print(
            f"Local hub at {ready.url} (data in {ready.root}; users: {', '.join(users) or 'none, read-only'}). "
            f"Set HF_ENDPOINT={ready.url} and HF_HUB_DISABLE_XET=1 for clients. Ctrl+C stops it.",
            flush=True,
        )

    try:
        server.run(on_ready=announce)
    except KeyboardInterrupt:
        pass
