"""The boundary: everything a person hands the program is checked here, before work starts.

Each check raises a :class:`~explorer.errors.UserError` with one sentence, or returns the
value ready to use. Files must be regular files (a FIFO would block the reader forever,
``/dev/zero`` would fill memory), readable, and not absurdly large; output paths must be
writable files in an existing folder, checked before a long job rather than after it.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from explorer.errors import UserError

#: no image, weights or video file the explorer opens is larger (a VGG-16 state dict is
#: 0.55 GB); anything bigger is refused before a byte is read
MAX_INPUT_BYTES = 4 << 30


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def article(word: str) -> str:
    """'an image', 'a weights file'."""
    return ("an " if word[:1].lower() in "aeio" else "a ") + word


def expand(path: str | Path, error: type[UserError] = UserError) -> Path:
    """`path` with a leading ``~`` or ``~user`` expanded; an unknown user is one sentence
    (``Path.expanduser`` raises a bare RuntimeError)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        user = str(path).split("/", 1)[0]
        raise error(f"{path}: {user} names no user whose home folder is known") from None


def _stat(path: Path, error: type[UserError]) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise error(f"{str(path)[:60]}…: the file name is too long") from None
        if exc.errno == errno.EACCES:
            raise error(f"{path}: permission denied") from None
        if exc.errno == errno.ELOOP:
            raise error(f"{path}: too many symbolic links (a loop?)") from None
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    except ValueError:  # an embedded NUL byte
        raise error(f"{path!r}: not a valid file name") from None


def input_file(path: str | Path, what: str = "file", *, error: type[UserError] = UserError,
               max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """`path` as a regular, readable, non-empty file of at most `max_bytes`.

    Raises:
        error: one sentence naming `what` and what is wrong with it.
    """
    if str(path).strip() == "":
        raise error(f"no {what} was given")
    p = expand(path, error)
    st = _stat(p, error)
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: is {_kind(st.st_mode)}, not {article(what)}")
    if st.st_size == 0:
        if str(p.resolve()).startswith(("/proc/", "/sys/")):  # their sizes read as 0
            raise error(f"{p}: is a system file, not {article(what)}")
        raise error(f"{p.name}: the file is empty")
    if st.st_size > max_bytes:
        raise error(f"{p.name}: {st.st_size / 2**30:.1f} GB is too large for {article(what)} "
                    f"(at most {max_bytes / 2**30:.0f} GB)")
    if not os.access(p, os.R_OK):
        raise error(f"{p}: permission denied (the file cannot be read)")
    return p


def input_folder(path: str | Path, what: str = "folder") -> Path:
    """`path` as an existing, readable folder."""
    p = expand(path)
    st = _stat(p, UserError)
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is {_kind(st.st_mode) if not stat.S_ISREG(st.st_mode) else 'a file'}"
                        f", not {article(what)}")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UserError(f"{p}: permission denied (the {what} cannot be read)")
    return p


def output_file(path: str | Path, suffixes: Iterable[str] = (".png",),
                what: str = "output", inputs: Iterable[str | Path | None] = ()) -> Path:
    """`path` as a file that can be written: its folder exists and is writable, it is not
    a folder itself, it ends in one of `suffixes` (case-insensitive; empty = any), and it
    is none of the command's `inputs` (writing the picture over itself loses it)."""
    if str(path).strip() == "":
        raise UserError(f"no {what} file was given")
    _no_control_characters(path)
    if str(path).endswith(("/", os.sep)):  # Path() drops the slash, which names a folder
        raise UserError(f"{path}: ends in '/', which names a folder; give a file name "
                        f"such as {str(path).rstrip('/' + os.sep)}/out"
                        f"{next(iter(suffixes), '.png')}")
    p = expand(path)
    for src in inputs:
        if src is not None and str(src).strip() and _same_file(p, expand(src)):
            raise UserError(f"{p}: is also an input ({src}); writing it would overwrite it, "
                            "so give another file name")
    suffixes = tuple(s.lower() for s in suffixes)
    if len(p.name.encode()) > 255:  # before any lookup: stat() fails on such a name
        raise UserError(f"{p.name[:60]}…: the file name is too long")
    if p.is_symlink():
        # the picture goes where the link points (as any editor's save does), so the
        # link stays a link; a link to nothing is named as such, not as a missing file
        target = Path(os.path.realpath(p))
        if not target.parent.is_dir():
            raise UserError(f"{p}: is a link to {target}, whose folder does not exist")
        p = target
    if p.exists():
        st = _stat(p, UserError)
        if stat.S_ISDIR(st.st_mode):
            example = p / ("out" + (suffixes[0] if suffixes else ".png"))
            raise UserError(f"{p}: is a folder; give a file name such as {example}")
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{p}: is {_kind(st.st_mode)}; the {what} must be a regular file")
        if not os.access(p, os.W_OK):
            raise UserError(f"{p}: permission denied (the file cannot be written)")
    if suffixes and p.name.lower() in suffixes:  # ".png" alone: a suffix with no name
        raise UserError(f"{p}: give a file name before {p.name}, such as "
                        f"{p.with_name('out' + p.name)}")
    if suffixes and p.suffix.lower() not in suffixes:
        raise UserError(f"{p.name}: the {what} must end in {' or '.join(suffixes)}")
    if len(p.name.encode()) > 255:
        raise UserError(f"{p.name[:60]}…: the file name is too long")
    parent = p.parent
    if not parent.exists():
        raise UserError(f"{p}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"{p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{p}: the folder {parent} cannot be written")
    why = _cannot_create_in(parent)
    if why:
        raise UserError(f"{p}: the folder {parent} cannot be written ({why})")
    return p


def output_folder(path: str | Path, what: str = "output folder") -> Path:
    """`path` as a folder to write into: created if missing (its parent must exist)."""
    if str(path).strip() == "":  # Path("") is the current folder: never a silent choice
        raise UserError(f"no {what} was given")
    _no_control_characters(path)
    p = expand(path)
    if any(len(part.encode()) > 255 for part in p.parts):  # stat() fails on such a name
        raise UserError(f"{p.name[:60]}…: the folder name is too long")
    if p.exists() and not p.is_dir():
        raise UserError(f"{p}: is a file, not a folder")
    if not p.exists():
        if not p.parent.is_dir():
            raise UserError(f"{p}: the folder {p.parent} does not exist")
        try:
            p.mkdir()
        except OSError as exc:
            raise UserError(f"{p}: cannot create the {what} ({exc.strerror})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise UserError(f"{p}: the {what} cannot be written")
    why = _cannot_create_in(p)
    if why:
        raise UserError(f"{p}: the {what} cannot be written ({why})")
    return p


def _no_control_characters(path: str | Path) -> None:
    """A new file or folder name holding a newline, tab or other control character is a
    paste or quoting slip (and breaks every listing that shows it): refused."""
    bad = next((c for c in str(path) if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise UserError(f"{str(path)!r}: the name holds a control character "
                        f"({bad!r}); give a plain file name")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _cannot_create_in(folder: Path) -> str | None:
    """Why no file can be created in `folder`, or None if one can.

    A real file is created and removed: ``os.access`` answers yes for root in ``/proc``,
    ``/sys`` or a read-only mount, where the write would fail only after the work.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=".cnn-explorer-probe-", dir=folder)
    except OSError as exc:
        if exc.errno == errno.ENOENT:  # /proc: the folder is there but takes no new files
            return "it takes no new files"
        return exc.strerror or type(exc).__name__
    os.close(fd)
    os.unlink(tmp)
    return None


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside `path`, then move it into place, so
    an interrupted or failed write leaves nothing half-written."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}-", suffix=p.suffix, dir=p.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); a saved picture follows the umask like any file
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    try:
        write(Path(tmp))
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def count(name: str, value: int, lo: int = 0, hi: int | None = None) -> int:
    """A whole number in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{name} must be a whole number, not {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise UserError(f"{name} must be a whole number, not {value!r}")
        value = int(f)
    if value < lo:
        raise UserError(f"{name} must be at least {lo}, not {value}")
    if hi is not None and value > hi:
        raise UserError(f"{name} must be at most {hi:,}, not {value:,}")
    return value


def number(name: str, value: float, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False) -> float:
    """A finite number in [lo, hi] (or (lo, hi] with `lo_open`)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(f):
        raise UserError(f"{name} must be a finite number, not {value}")
    if lo is not None and (f < lo or (lo_open and f == lo)):
        raise UserError(f"{name} must be {'above' if lo_open else 'at least'} {lo:g}, not {f:g}")
    if hi is not None and f > hi:
        raise UserError(f"{name} must be at most {hi:g}, not {f:g}")
    return f


def allocation(what: str, elements: float, limit: float = 2e9) -> None:
    """Refuse work whose tensors would hold more than `limit` float32 numbers (8 GB by
    default) before anything is allocated."""
    if not math.isfinite(elements) or elements > limit:
        raise UserError(f"{what} would need {elements * 4 / 2**30:,.0f} GB of memory; "
                        "choose smaller sizes")


def comma_items(option: str, text: str, example: str) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; an empty item (``1,,2``, ``1,``, ``,1``) is a
    slip, not a choice, so it is refused rather than skipped. A list of nothing but
    commas gives ``[]``, for the caller to refuse in its own words.

    Raises:
        UserError: ``--scales '1,,2': an empty item between commas; give e.g. 2,1,0.5``.
    """
    parts = [p.strip() for p in str(text).split(",")]
    if not any(parts):  # "," or " , ": names nothing, which each caller words itself
        return []
    if any(not p for p in parts):
        raise UserError(f"{option} {str(text)[:60]!r}: an empty item between commas; "
                        f"give e.g. {example}")
    return parts
