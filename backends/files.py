"""Files the console writes: read-modify-write under a lock, replaced atomically.

Several processes may write one file at once (twenty CLI calls on one ``--demo-state``, a
console open on it meanwhile). Two rules keep every write whole and none lost:

- **A lock beside the file.** ``FileLock(path)`` takes an exclusive ``fcntl.flock`` on
  ``PATH.lock`` (created on first use, never deleted: deleting a lock file lets two writers
  lock two different files). Whoever reads, changes and writes ``PATH`` holds it throughout.
  The wait is bounded and ends in one line saying who to wait for.
- **Replaced, never rewritten.** ``write_atomic`` writes a temporary in the same directory,
  flushes and fsyncs it, ``os.replace``\\ s it over the target and fsyncs the directory, so a
  reader (locked or not) sees the old file or the new one, whole, even after a crash or a
  ``kill -9``. The temporary is removed on every way out of the call; the ones a killed writer
  left behind (its pid dead, or older than a minute) are removed by the next write.

Errors are ``BackendError``\\ s with one line naming the file: ``FileBusy`` (the lock wait ran
out), ``FileWriteFailed`` (a write or the lock could not be made: a read-only directory, a
full disk), ``FileTooLarge`` (a read past its cap). Callers need nothing else.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import stat
import time
from contextlib import suppress
from typing import IO, Callable

from .errors import BackendError, Conflict, InvalidInput

LOCK_TIMEOUT = 60.0  # seconds a writer waits for the lock before giving up with one line
STALE_TEMP_SECONDS = 60.0  # a temporary this old is a leftover whoever made it
MAX_LEFTOVER_SCAN = 100_000  # directory entries looked at per cleanup: a huge directory costs a bound
LEGACY_TEMP_PREFIXES = (".sim-state-",)  # temporaries of earlier versions (tempfile.mkstemp names, no pid)
_POLL_FIRST, _POLL_MAX = 0.005, 0.1  # seconds between tries of a busy lock


class FileBusy(Conflict):
    title = "Busy"


class FileWriteFailed(BackendError):
    """The file could not be written (or locked for writing); nothing of it changed."""

    exit_code = 1
    title = "Save failed"


class FileTooLarge(InvalidInput):
    pass


def lock_path(path: str) -> str:
    return path + ".lock"


class FileLock:
    """An exclusive lock on ``path`` (held on ``PATH.lock``) between ``acquire`` and ``release``.

    Held by this object, not the process: a second ``FileLock`` on the same path waits even in
    the same process. Not inherited by children (close-on-exec)."""

    def __init__(self, path: str, *, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_path = lock_path(path)
        self.timeout = timeout
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise FileWriteFailed(f"cannot lock {self.path}: {_reason(err, self.lock_path)}") from None

    def _try(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as err:
            os.close(fd)
            raise FileWriteFailed(f"cannot lock {self.path}: {_reason(err, self.lock_path)}") from None
        self._fd = fd
        return True

    def _busy(self, fd: int) -> FileBusy:
        os.close(fd)
        return FileBusy(
            f"{self.path} is in use by another ntnx-console (waited {self.timeout:g}s for {self.lock_path}); try again"
        )

    def _delays(self) -> "list[float]":
        # The waits between tries, bounded in count and in total by the timeout.
        delays, delay, total = [], _POLL_FIRST, 0.0
        while total < self.timeout:
            step = min(delay, self.timeout - total)
            delays.append(step)
            total += step
            delay = min(_POLL_MAX, delay * 1.5)
        return delays

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = self._open()
        for delay in [*self._delays(), None]:
            if self._try(fd):
                return
            if delay is None:
                raise self._busy(fd)
            time.sleep(delay)

    async def acquire_async(self) -> None:
        """``acquire`` for an event loop: the wait does not stop everything else."""
        if self._fd is not None:
            return
        fd = self._open()
        for delay in [*self._delays(), None]:
            if self._try(fd):
                return
            if delay is None:
                raise self._busy(fd)
            await asyncio.sleep(delay)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_capped(path: str, max_bytes: int) -> bytes | None:
    """The whole file, or None if there is none; ``FileTooLarge`` past ``max_bytes`` (checked
    before reading, and again while reading in case it grew). Other ``OSError``\\ s propagate."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise FileTooLarge(f"{path} is {size:,} bytes, more than the {max_bytes:,} this file may be")
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    if len(data) > max_bytes:
        raise FileTooLarge(f"{path} grew past the {max_bytes:,} bytes this file may be while it was read")
    return data


def write_atomic(
    path: str,
    write: Callable[[IO[bytes]], None],
    *,
    mode: int = 0o600,
    before_replace: Callable[[str], None] | None = None,
) -> None:
    """Replace ``path`` with what ``write(f)`` writes, atomically and durably.

    The caller holds ``FileLock(path)`` when others may write it. An existing file keeps its
    permission bits; a new one gets ``mode``. ``before_replace(tmp)`` runs once the temporary
    is complete (tests use it to stop a writer there). Any failure raises ``FileWriteFailed``
    (or what ``write`` raised) with the target as it was and no temporary left."""
    target = os.path.abspath(path)
    directory, name = os.path.split(target)
    with suppress(OSError):
        mode = stat.S_IMODE(os.stat(target).st_mode)
    remove_leftovers(target)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except OSError as err:
            raise FileWriteFailed(f"cannot save {path}: {_reason(err, directory)}") from None
        try:
            with open(fd, "wb", closefd=True) as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            if before_replace is not None:
                before_replace(tmp)
            os.replace(tmp, target)
        except OSError as err:
            raise FileWriteFailed(f"cannot save {path}: {_reason(err, directory)}") from None
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def remove_leftovers(path: str) -> int:
    """Remove temporaries of ``path`` that a killed writer left: made by a pid that is gone, or
    older than a minute (whoever made them). Returns how many went. Never raises."""
    directory, name = os.path.split(os.path.abspath(path))
    ours = f".{name}."
    now = time.time()
    removed = 0
    try:
        with os.scandir(directory) as entries:
            for seen, entry in enumerate(entries):
                if seen >= MAX_LEFTOVER_SCAN:
                    break
                if not entry.name.endswith(".tmp") or not entry.name.startswith(ours):
                    if not entry.name.startswith(LEGACY_TEMP_PREFIXES):
                        continue
                    pid = None
                else:
                    pid = _pid_of(entry.name[len(ours):])
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                stale = now - st.st_mtime > STALE_TEMP_SECONDS
                if stale or (pid is not None and not _alive(pid)):
                    with suppress(OSError):
                        os.unlink(entry.path)
                        removed += 1
    except OSError:
        pass  # a directory we cannot list: the write itself will say what is wrong
    return removed


def _pid_of(rest: str) -> int | None:
    # "<pid>.<token>.tmp"
    head = rest.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) < 10 else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # our own is in use, or already being cleaned up by its writer
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, someone else's
    return True


def _fsync_directory(directory: str) -> None:
    # The rename itself is durable only once the directory is; some filesystems refuse this.
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reason(err: OSError, where: str) -> str:
    # The place the user can act on (the directory, the lock file), not our temporary's name.
    return f"{err.strerror or type(err).__name__} ({where})"
