"""``codecstyle serve``: the page and the API on uvicorn, with the job queue running beside them."""
from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
import threading
import webbrowser
from typing import Optional

from ..errors import CodecStyleError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def default_jobs_dir() -> str:
    """Where jobs live unless ``--jobs`` says: the user's data folder (``~/.local/share`` on Linux)."""
    from platformdirs import user_data_dir

    return os.path.join(user_data_dir("codecstyle", appauthor=False), "jobs")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line error (port taken, address not on this machine)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise CodecStyleError(f"unknown host {host!r}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CodecStyleError(f"port {port} on {host} is in use: pass another --port") from None
        raise CodecStyleError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, jobs_dir: Optional[str] = None,
          open_browser: bool = False, concurrent: int = 1) -> None:
    """Serve until interrupted. Unfinished jobs of ``jobs_dir`` (default ``default_jobs_dir()``)
    resume at once; renders still running at the end stop, and resume at the next start."""
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise CodecStyleError(f"codecstyle serve needs the web extra: pip install 'codecstyle[web]' "
                              f"({exc.name} is missing)") from None
    from .jobs import JobStore
    from .runner import JobRunner

    jobs_dir = os.path.abspath(jobs_dir or default_jobs_dir())
    try:
        store = JobStore(jobs_dir)
    except OSError as exc:
        raise CodecStyleError(f"cannot use {jobs_dir} for jobs ({exc.strerror or exc})") from None
    sock = _bind(host, port)
    port = sock.getsockname()[1]
    runner = JobRunner(store, concurrent).start()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    if not is_loopback(host):
        print(f"codecstyle: warning: listening on {host}: anyone who can reach this machine on the network "
              f"can submit renders and read every job", file=sys.stderr)
    print(f"codecstyle: serving {url} (jobs in {jobs_dir}; Ctrl-C stops)", file=sys.stderr, flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(create_app(store, runner), log_level="warning", timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        runner.stop()
        sock.close()
    unfinished = len(store.unfinished())
    if unfinished:
        print(f"codecstyle: stopped; {unfinished} unfinished job{'s' if unfinished != 1 else ''} "
              f"resume at the next start", file=sys.stderr)
