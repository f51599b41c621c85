"""The ``--demo-state`` file shared between processes: who may write it, and when.

Two ways to share it, chosen by the backend's owner:

- **exclusive** (the CLI): the lock is taken before the file is read and held until the
  session ends, so twenty CLI calls on one file run one after another, each on the state the
  one before saved. A CLI call is short; the others wait (bounded, ``LOCK_TIMEOUT``).
- **shared** (the console, ``sim serve``): read without the lock (the file is only ever
  replaced whole, so a read sees one save or another); at save, the lock is taken and the file
  must be the one this session loaded. If another process saved it meanwhile, it is not
  overwritten: ``StateChanged`` says so in one line and this session's state stays in memory.
  (Merging two sessions' worlds is not attempted: names, addresses and quotas would collide.)
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import IO, Callable

from ..errors import Conflict, InvalidInput
from ..files import LOCK_TIMEOUT, FileLock, FileWriteFailed, read_capped, write_atomic
from .persist import MAX_STATE_BYTES

# Tests only: with this set to a path, a save creates that file once its temporary is complete
# and then stalls (bounded), so a test can kill -9 the writer mid-save, at a known point.
STALL_ENV = "NTNX_CONSOLE_TEST_STALL_SAVE"
STALL_SECONDS = 60.0


class StateChanged(Conflict):
    title = "Not saved"


class StateFile:
    def __init__(self, path: str, *, exclusive: bool, timeout: float = LOCK_TIMEOUT) -> None:
        if not path or not path.strip():
            raise InvalidInput("--demo-state: empty path; name the file to keep the state in")
        self.path = path
        self.exclusive = exclusive
        self.lock = FileLock(path, timeout=timeout)
        # What this session last read or wrote: (stat identity, sha256) or None for no file.
        self._seen: tuple[tuple[int, int, int, int], str | None] | None = None

    async def read(self) -> bytes | None:
        """The file's bytes (None if there is none yet), capped; exclusive: lock held from here."""
        if self.exclusive:
            self._make_directory()
            await self.lock.acquire_async()
        raw, self._seen = self._read_now()
        return raw

    async def write(self, write: Callable[[IO[bytes]], None]) -> None:
        """Replace the file with what ``write`` writes; shared: only if no one else saved it."""
        self._make_directory()
        held = self.lock.held
        if not held:
            await self.lock.acquire_async()
        try:
            if not self._unchanged():
                raise StateChanged(
                    f"{self.path} was saved by another ntnx-console since this one loaded it: not overwritten, "
                    "so this session's changes are not in it"
                )
            write_atomic(self.path, write, before_replace=_stall_for_tests())
            try:
                self._seen = (_identity(os.stat(self.path)), None)
            except OSError:
                self._seen = None
        finally:
            if not held:
                self.lock.release()

    def release(self) -> None:
        self.lock.release()

    def _read_now(self) -> tuple[bytes | None, tuple | None]:
        try:
            raw = read_capped(self.path, MAX_STATE_BYTES)
            if raw is None:
                return None, None
            st = os.stat(self.path)
        except OSError as err:
            raise InvalidInput(f"cannot read {self.path}: {err.strerror or type(err).__name__}") from None
        return raw, (_identity(st), hashlib.sha256(raw).hexdigest())

    def _unchanged(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._seen is None
        except OSError:
            return True  # let the write say what is wrong
        if self._seen is None:
            return False  # made by someone else since this session found none
        identity, digest = self._seen
        if _identity(st) == identity:
            return True
        if digest is None:
            return False
        # Touched (copied back, rewritten the same): changed only if the content differs.
        try:
            raw = read_capped(self.path, MAX_STATE_BYTES)
        except (OSError, InvalidInput):
            return False
        return raw is not None and hashlib.sha256(raw).hexdigest() == digest

    def _make_directory(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise FileWriteFailed(f"cannot save {self.path}: {err.strerror or type(err).__name__} ({directory})") from None


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _stall_for_tests() -> Callable[[str], None] | None:
    signal_path = os.environ.get(STALL_ENV)
    if not signal_path:
        return None

    def stall(tmp: str) -> None:
        with open(signal_path, "w") as f:
            f.write(tmp)
        time.sleep(STALL_SECONDS)  # the test kills us here; bounded if it does not

    return stall
