"""``ketasim app``: start the web app on this computer (thin; the app lives in ketasim.app).

Binds 127.0.0.1 by default. The app has no authentication, so a host that other computers can
reach is refused unless ``--allow-remote`` is given (and then warned about). A port in use is a
clear error before anything starts.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from typing import Any, TextIO

from ketasim.cli.common import UsageError

__all__ = ["cmd_app", "is_local_host", "register"]

DEFAULT_PORT = 8765


def is_local_host(host: str) -> bool:
    """True for a loopback host (``localhost``, 127.0.0.0/8, ``::1``).

    >>> is_local_host("127.0.0.1"), is_local_host("0.0.0.0"), is_local_host("localhost")
    (True, False, True)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"port {port} on {host} is already in use: stop what uses it or pick "
                    "another with --port"
                ) from None
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def cmd_app(args: argparse.Namespace, out: TextIO) -> int:
    host, port = args.host, args.port
    if not 0 < port < 65536:
        raise UsageError(f"--port {port} must be between 1 and 65535")
    if not is_local_host(host):
        if not args.allow_remote:
            raise UsageError(
                f"--host {host} would let other computers reach the app, which has no login: "
                "refused; use the default 127.0.0.1, or add --allow-remote if you mean it"
            )
        print(
            f"ketasim: warning: listening on {host}: anyone who can reach this address can use "
            "the app (no login, no encryption)",
            file=sys.stderr,
        )
    _check_port_free(host, port)
    import uvicorn

    from ketasim.app import create_app

    app = create_app()
    shown = f"[{host}]" if ":" in host else host
    print(f"ketasim app: http://{shown}:{port}/  (Ctrl-C to stop)", file=out, flush=True)
    uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning", ws="auto")
    return 0


def register(sub: Any) -> None:
    """Add ``app`` to the CLI's subparsers."""
    s = sub.add_parser(
        "app",
        help="start the web app (compare regimens in a browser)",
        description=(
            "Start the ketasim web app and print its address. Offline: every script is served "
            "from installed packages. Research and education only."
        ),
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    s.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other computers can reach (the app has no login)",
    )
    s.set_defaults(func=cmd_app)
