"""Command-line interface: parse arguments, call the public API, print or write results.

Thin by design: no pharmacokinetics here. Each command group is one module of this package with a
``register(subparsers)`` function (listed in :data:`COMMANDS`). Errors in the user's input exit
with code 2 and one line naming the culprit; nothing is written when an error occurs.

Commands::

    ketasim simulate MODEL DATA.csv [--param NAME=VALUE ...] [--out FILE.csv]
    ketasim simulate MODEL --dose "0.5 mg/kg" --route iv --duration "40 min" --weight "70 kg"
    ketasim effects | population | models | model show | validate | interactions | demo
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from ketasim.errors import KetasimError, KetasimWarning
from ketasim.notices import DISCLAIMER

__all__ = ["COMMANDS", "build_parser", "main"]

#: command modules of this package, in the order ``--help`` lists them
COMMANDS: tuple[str, ...] = (
    "simulate",
    "effects",
    "population",
    "tci",
    "design",
    "library",
    "compare_models",
    "info",
    "screen",
    "run",
    "nca",
    "fit",
    "app",
    "demo",
)

#: the module that registers each command (the CLI imports only that one for a known command,
#: which keeps one ``ketasim simulate`` process light); unknown or help: every module
_COMMAND_MODULES: dict[str, str] = {
    "simulate": "simulate",
    "effects": "effects",
    "population": "population",
    "tci": "tci",
    "design": "design",
    "interactions": "library",
    "models": "library",
    "model": "library",
    "validate": "library",
    "compare-models": "compare_models",
    "info": "info",
    "screen": "screen",
    "run": "run",
    "nca": "nca",
    "fit": "fit",
    "app": "app",
    "demo": "demo",
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``ketasim: error: ...``) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ketasim: error: {message} (see `{self.prog} --help`)\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``ketasim`` argument parser with every command of :data:`COMMANDS` registered
    (or only the module ``only``, for a command line that names its command)."""
    p = _Parser(
        prog="ketasim",
        description="Ketamine and metabolite pharmacokinetics. " + DISCLAIMER,
    )
    from ketasim import __version__

    p.add_argument("--version", action="version", version=f"ketasim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"ketasim.cli.{name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 validation failures, 2 input errors)."""
    out = out or sys.stdout
    words = list(sys.argv[1:] if argv is None else argv)
    first = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(_COMMAND_MODULES.get(first or ""))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)

    shown: set[str] = set()

    def show(
        message: Any,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        label = category.__name__ if issubclass(category, KetasimWarning) else "warning"
        text = f"ketasim: {label}: {message}"
        if text not in shown:  # NOTE: one line per distinct warning, however often it is raised
            shown.add(text)
            print(text, file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        warnings.simplefilter("always", KetasimWarning)
        try:
            return int(args.func(args, out))
        except KetasimError as exc:
            print(f"ketasim: error: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            # NOTE: the reader of stdout has gone (e.g. `| head`): stop quietly, as Unix tools do
            if out is sys.stdout:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except OSError as exc:
            print(
                f"ketasim: error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}",
                file=sys.stderr,
            )
            return 2
        except KeyboardInterrupt:
            print("ketasim: interrupted; nothing was written", file=sys.stderr)
            return 130
        except MemoryError:
            print(
                "ketasim: error: not enough memory for this run: use fewer subjects or output "
                "times",
                file=sys.stderr,
            )
            return 2
        except Exception as exc:  # NOTE: no traceback for users; KETASIM_DEBUG=1 shows it
            if os.environ.get("KETASIM_DEBUG"):
                raise
            print(
                f"ketasim: internal error ({type(exc).__name__}: {exc}); please report it with "
                "the command line (set KETASIM_DEBUG=1 for details)",
                file=sys.stderr,
            )
            return 3
