"""Safe writes of user files: atomic replace and an advisory lock for edits.

Every file anatloc writes for a user goes through :func:`atomic_write`: the bytes go to a
temporary file in the same folder, are flushed to disk, and the temporary file is renamed
over the target.  A crash at any moment leaves either the old file or the new one, never a
half-written one.  Edits of an ontology file hold :func:`file_lock` from load to save, so two
processes editing the same file never lose each other's update.

The lock is the ``filelock`` package's (``flock`` on POSIX, ``msvcrt`` locking on Windows)
rather than a hand-made ``fcntl`` loop, so it works wherever Python does; the lock file
``<path>.lock`` is left in place after use, as before.

:func:`cache_dir` is the one folder every disk cache of anatloc lives under (the parse cache
of :mod:`anatloc.ontology.io`, the text banks of the retriever): ``$ANATLOC_CACHE_DIR`` or
``~/.cache/anatloc``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import filelock

from .errors import DataError, LockedError

#: the environment variable naming the cache folder (see :func:`cache_dir`)
ENV_CACHE = "ANATLOC_CACHE_DIR"


def cache_dir() -> Path:
    """``$ANATLOC_CACHE_DIR`` or ``~/.cache/anatloc``: the root of anatloc's disk caches."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "anatloc"


def atomic_write(path: str | os.PathLike, data: bytes | str, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename)."""
    target = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {target}: folder {folder} does not exist")
    if mode is None:
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise DataError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, timeout: float = 30.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<path>.lock`` for the duration of the block.

    Waits up to ``timeout`` seconds for another holder, then raises :class:`LockedError`.
    """
    lock_path = Path(str(path) + ".lock")
    lock = filelock.FileLock(lock_path)
    try:
        lock.acquire(timeout=timeout, poll_interval=0.05)
    except filelock.Timeout:
        raise LockedError(
            f"{path} is being edited by another process (lock {lock_path} held "
            f"for more than {timeout:g} s); try again when it has finished"
        ) from None
    except OSError as exc:
        raise DataError(f"cannot create lock file {lock_path}: {exc.strerror}") from None
    try:
        yield
    finally:
        lock.release()
