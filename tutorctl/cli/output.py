"""Where ``export --output`` writes: a regular file atomically, a stream as a stream.

Atomic replacement (a temporary file renamed over the target) is only right for a regular
file, or a path that does not exist yet. Renamed over a FIFO or a device it would put a
regular file in its place: the FIFO's reader gets nothing, and as root ``/dev/null`` would stop
being the null device. So:

- a path naming one of this process's open descriptors (``/dev/stdout``, ``/dev/fd/N``,
  ``/proc/self/fd/N``) is written to that descriptor, whatever it is: a pipe, a terminal, or the
  file a shell opened with ``>`` or ``>>`` (appended to, never renamed over);
- a FIFO or a character device is opened and written as a stream;
- a regular file, or nothing yet, is written atomically;
- anything else (a folder, a socket, a block device) is refused, exit 2, and left as it is.

A stream cannot be taken back: what was written before an error stays written. The export
therefore checks everything it can (format, weeks, user) before it opens the output.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from tutorctl.core.errors import InputError

_FD_FOLDER = re.compile(r"/proc/([0-9]+)(?:/task/[0-9]+)?/fd")
_MAX_LINKS = 40  # as the kernel's ELOOP limit


@contextmanager
def output_file(path: Path) -> Iterator[TextIO]:
    """``path`` opened for writing text, by its kind (see the module)."""
    descriptor = open_descriptor(path)
    if descriptor is not None:
        with _descriptor_stream(path, descriptor) as out:
            yield out
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None  # nothing there yet (or a dangling link): a new file
    except OSError as exc:
        raise _cannot(path, exc) from None
    if mode is None or stat.S_ISREG(mode):
        with atomic_output(path) as out:
            yield out
    elif stat.S_ISDIR(mode):
        raise InputError(f"cannot write {str(path)!r}: it is a directory; name a file")
    elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        with _device_stream(path) as out:
            yield out
    else:
        raise InputError(
            f"cannot write {str(path)!r}: it is not a regular file, a FIFO or a character "
            "device (a socket or a block device is never written)"
        )


def open_descriptor(path: Path) -> int | None:
    """The descriptor of this process that ``path`` names through /proc/self/fd (as
    ``/dev/stdout`` and ``/dev/fd/N`` do), or None. Links are followed one at a time: the
    last one (``/proc/self/fd/1`` → ``pipe:[…]``) names no file to resolve."""
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        folder, name = os.path.split(current)
        folder = os.path.realpath(folder)
        found = _FD_FOLDER.fullmatch(folder)
        if found and found.group(1) == str(os.getpid()) and name.isascii() and name.isdigit():
            return int(name)
        try:
            target = os.readlink(os.path.join(folder, name))
        except OSError:
            return None  # not a link, or not there: a path like any other
        current = os.path.normpath(os.path.join(folder, target))
    return None


def _cannot(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot write {str(path)!r}: {exc.strerror or exc}")


@contextmanager
def _descriptor_stream(path: Path, descriptor: int) -> Iterator[TextIO]:
    if descriptor == 1 and sys.stdout is not None:  # what the command prints goes there too
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            raise  # as for any output to a closed pipe (tutorctl.cli.app)
        except OSError as exc:
            raise _cannot(path, exc) from None
        return
    try:
        copy = os.dup(descriptor)  # closed at the end; the descriptor itself stays open
    except OSError as exc:
        raise _cannot(path, exc) from None
    with _writing(path, copy) as out:
        yield out


@contextmanager
def _device_stream(path: Path) -> Iterator[TextIO]:
    """A FIFO (the open waits for its reader, as a shell's ``>`` does) or a character device.
    Never created, never truncated, never replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise _cannot(path, exc) from None
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):  # swapped since it was looked at
        os.close(fd)
        raise InputError(f"cannot write {str(path)!r}: it changed while being opened")
    with _writing(path, fd) as out:
        yield out


@contextmanager
def _writing(path: Path, fd: int) -> Iterator[TextIO]:
    """Text written to ``fd`` (closed at the end); an OSError while writing is exit 2."""
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as exc:
        raise _cannot(path, exc) from None


@contextmanager
def atomic_output(path: Path) -> Iterator[TextIO]:
    """A regular file written in full or not at all: a temporary file next to ``path``, renamed
    over it once everything is written. On any error ``path`` is untouched (an existing file
    keeps its content, a new one is not created) and the temporary file is removed."""
    target = Path(os.path.realpath(path))  # through a symlink: replace what it points to
    if target.is_dir():
        raise InputError(f"cannot write {str(path)!r}: it is a directory; name a file")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)  # keep an existing file's permissions
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        with suppress(FileNotFoundError):  # made a FIFO or a device since it was looked at
            if not stat.S_ISREG(os.lstat(target).st_mode):
                raise InputError(f"cannot write {str(path)!r}: it is no longer a regular file")
        os.replace(temp, target)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(temp)
        raise _cannot(path, exc) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
