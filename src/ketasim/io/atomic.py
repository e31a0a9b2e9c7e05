"""The one safe writer: an output file appears complete or not at all, and nothing else is harmed.

Owns how ketasim writes files and which targets it accepts:

- a regular file (or a new one) is written to a temporary file in the target's folder and renamed
  over the target once complete; the new file gets the user's umask (or keeps the mode of the file
  it replaces);
- a symbolic link is followed deliberately: the file it points to is replaced, the link stays;
- a character device (``/dev/stdout``, ``/dev/null``) or a FIFO with a reader is written
  through (never replaced by a regular file); a FIFO without a reader is an error (no hang);
- a folder, a path whose folder does not exist, or a read-only file is an error naming the user's
  path (never the temporary file).

:func:`check_output_paths` validates every output of a command *before* any work: each folder
exists, no output is one of the inputs or another output. Formatting of tables beyond CSV cells is
the caller's.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ketasim.errors import KetasimError

__all__ = [
    "OutputError",
    "check_output_paths",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_text_atomic",
    "write_with",
]


class OutputError(KetasimError, OSError):
    """An output path that cannot or must not be written (names the user's path)."""


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _describe(path: str | os.PathLike[str]) -> str:
    return repr(os.fspath(path))


def _kind(path: Path) -> str:
    """'missing', 'regular', 'dir', 'chardev', 'fifo' or 'other' (after following links)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "other"
    if stat.S_ISREG(st.st_mode):
        return "regular"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISCHR(st.st_mode):
        return "chardev"
    if stat.S_ISFIFO(st.st_mode):
        return "fifo"
    return "other"


def check_output_paths(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> None:
    """Check every output path of a command before any work is done.

    Parameters
    ----------
    outputs : mapping of option name (e.g. ``"--out"``) to path (None = not asked for)
    inputs : mapping of option name to path, optional
        Files the command reads; an output may not be one of them.

    Raises
    ------
    OutputError
        Naming the option and the path as the user wrote it: a missing folder, a folder given
        as a file, an output equal to an input or to another output, a device or socket that
        cannot be written.
    """
    seen: dict[str, str] = {}
    ins = {k: v for k, v in (inputs or {}).items() if v is not None}
    for option, raw in outputs.items():
        if raw is None:
            continue
        path = Path(raw)
        if not os.fspath(raw):
            raise OutputError(f"{option}: empty file name")
        kind = _kind(path)
        if kind == "dir":
            raise OutputError(f"{option} {_describe(raw)} is a folder: give a file name")
        if kind == "other":
            raise OutputError(f"{option} {_describe(raw)} is not a file ketasim can write")
        if kind in ("missing", "regular"):
            real = Path(os.path.realpath(path))
            folder = real.parent
            if not folder.is_dir():
                raise OutputError(
                    f"{option} {_describe(raw)}: folder {str(path.parent)!r} does not exist"
                )
            if not os.access(folder, os.W_OK):
                raise OutputError(f"{option} {_describe(raw)}: folder is not writable")
            if kind == "regular" and _is_read_only(real):
                raise OutputError(
                    f"{option} {_describe(raw)} is read-only: it is not replaced; give another "
                    "file name or make it writable"
                )
            key = str(real)
            for in_option, in_raw in ins.items():
                if _same_file(path, Path(in_raw)):
                    raise OutputError(
                        f"{option} {_describe(raw)} is the input {in_option} "
                        f"{_describe(in_raw)}: write the output to another file"
                    )
            if key in seen:
                raise OutputError(
                    f"{option} {_describe(raw)} is also the file of {seen[key]}: give each "
                    "output its own file"
                )
            seen[key] = f"{option} {_describe(raw)}"


def _is_read_only(real: Path) -> bool:
    """No write permission for this user, or no write bit at all (which root would ignore)."""
    return not os.access(real, os.W_OK) or not os.stat(real).st_mode & 0o222


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def write_with(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` by calling ``write(binary_file)``; complete or not at all.

    Parameters
    ----------
    path : path-like
        The user's output path (see the module notes for links, devices and FIFOs).
    write : callable
        Writes the whole content to the binary file object it is given.

    Raises
    ------
    OutputError
        Naming ``path`` (never a temporary file) when it cannot be written.
    """
    target = Path(path)
    kind = _kind(target)
    if kind == "dir":
        raise OutputError(f"{_describe(path)} is a folder: give a file name")
    if kind == "other":
        raise OutputError(f"{_describe(path)} is not a file ketasim can write")
    if kind in ("chardev", "fifo"):
        _write_through(target, write, kind, path)
        return
    real = Path(os.path.realpath(target))
    folder = real.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {_describe(path)}: its folder does not exist")
    mode = _umask_mode()
    if kind == "regular":
        if _is_read_only(real):  # NOTE: a rename could replace it; its mode says no
            raise OutputError(f"{_describe(path)} is read-only: it is not replaced")
        mode = stat.S_IMODE(os.stat(real).st_mode)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write {_describe(path)}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
        os.replace(tmp, real)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"cannot write {_describe(path)}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_through(
    target: Path, write: Callable[[IO[bytes]], None], kind: str, path: str | os.PathLike[str]
) -> None:
    buf = io.BytesIO()
    write(buf)  # NOTE: render fully first, so a failure leaves the device or pipe untouched
    flags = os.O_WRONLY | (os.O_NONBLOCK if kind == "fifo" else 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError(f"{_describe(path)} is a FIFO with no reader") from None
        raise OutputError(f"cannot write {_describe(path)}: {exc.strerror}") from None
    try:
        if kind == "fifo":
            os.set_blocking(fd, True)
        data = memoryview(buf.getvalue())
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError as exc:
        raise OutputError(f"cannot write {_describe(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write bytes to ``path`` (see :func:`write_with`)."""

    def write(fh: IO[bytes]) -> None:
        fh.write(data)

    write_with(path, write)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text to ``path`` (see :func:`write_with`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_csv_atomic(
    path: str | os.PathLike[str], header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Write a CSV file so that it either appears complete or not at all.

    Numbers are written with 10 significant digits (integers without a decimal point); text
    cells as given.
    """
    sio = io.StringIO()
    writer = csv.writer(sio, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_format_number(v) for v in row])
    write_text_atomic(path, sio.getvalue())


def _format_number(value: Any) -> str:
    if isinstance(value, str):
        return value
    x = float(value)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}"
