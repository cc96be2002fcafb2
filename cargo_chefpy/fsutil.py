"""Atomic writes and mtime settling. Every file this tool writes goes through `atomic_write`."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from cargo_chefpy.errors import WriteError

# The one fixed mtime given to every skeleton file cook writes, and to every unchanged file that
# build settles: 2000-01-01T00:00:00Z. Any fixed time older than the build outputs works; a
# documented constant makes the build-script fingerprints (newest mtime, compared for equality)
# identical in the cook stage and the final stage.
FIXED_MTIME = 946684800
FIXED_MTIME_NS = FIXED_MTIME * 1_000_000_000


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EFBIG:
        return "file too large (a file size limit was hit)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    return exc.strerror or str(exc)


def write_error(path: Path, exc: OSError) -> WriteError:
    return WriteError(
        f"could not write {path}: {_describe(exc)}",
        hint="choose a writable location, or free space, and run again",
    )


def atomic_write(path: Path, data: bytes, *, executable: bool = False, mtime: float | None = None) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`.

    A reader, or a crash at any point, sees the old file or the complete new one, never a part.
    """
    directory = path.parent
    try:
        import tempfile  # not on build's start-up path, which writes nothing

        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".chefpy-tmp", dir=directory)
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o755 if executable else 0o644)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise write_error(path, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def set_mtime(path: Path, mtime: float) -> bool:
    """Give `path` the mtime (not following symlinks); True when it changed."""
    st = path.lstat()
    if st.st_mtime == mtime:
        return False
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return True
