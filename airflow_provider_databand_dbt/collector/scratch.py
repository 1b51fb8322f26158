"""The scratch folder artifacts are downloaded into, and the sweep of folders that killed collections left.

A manifest can be hundreds of MB, so a collection killed mid-download (SIGKILL, OOM killer, a
crashed pod sharing /tmp) must not leave it behind for good. Folder names carry who owns them,
``databand-dbt-scratch-<host tag>-<pid>-<random>``; a later collection removes a folder whose
process is gone on this host, or that nobody touched for :data:`STALE_AFTER_SECONDS` (another
host or container sharing the folder, or the unlabelled folders of older versions).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

PREFIX = "databand-dbt-scratch-"
STALE_AFTER_SECONDS = 24 * 3600
_OURS = re.compile(r"^databand-dbt-scratch-(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]+)-[A-Za-z0-9_]+$")
# Folders of versions before the owner was in the name: tempfile's 8 random characters.
_LEGACY = re.compile(r"^databand-dbt-[a-z0-9_]{8}$")

_swept_lock = threading.Lock()
_swept: set[str] = set()


def host_tag() -> str:
    """Eight hex characters naming this host, so a pid is only judged on the host that owns it."""
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


@contextlib.contextmanager
def scratch_directory(parent: Optional[str] = None) -> Iterator[Path]:
    """A new scratch folder, removed on exit (exceptions and SystemExit from SIGTERM included).

    The first use in a process also sweeps stale folders of killed collections from ``parent``.

    :param parent: where to create it; the system temp folder (``$TMPDIR``) by default.
    """
    parent = parent or tempfile.gettempdir()
    with _swept_lock:
        first = parent not in _swept
        _swept.add(parent)
    if first:
        sweep_stale(parent)
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{host_tag()}-{os.getpid()}-", dir=parent)
    try:
        yield Path(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale(parent: str, *, stale_after: float = STALE_AFTER_SECONDS) -> list[Path]:
    """Remove our scratch folders in ``parent`` whose owner is gone; returns what was removed.

    Only folders owned by this user, named by us, and not symlinks are considered.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError as exc:
        log.debug("cannot list %s for stale scratch folders: %s", parent, exc)
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith("databand-dbt-") or not _is_stale(entry, now, stale_after):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            log.info("removed the scratch folder %s left by a collection that was killed", entry.path)
            removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry, now: float, stale_after: float) -> bool:
    try:
        info = entry.stat(follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    ours = _OURS.match(entry.name)
    if ours is None and not _LEGACY.match(entry.name):
        return False
    if ours is not None and ours["host"] == host_tag() and not _process_alive(int(ours["pid"])):
        return True
    return now - _last_touched(entry.path, info.st_mtime) > stale_after


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or nonsense): never guess it is gone
    return True


def _last_touched(path: str, folder_mtime: float) -> float:
    """Newest mtime of the folder and its files: a long download only touches its file."""
    newest = folder_mtime
    try:
        with os.scandir(path) as files:
            for item in files:
                with contextlib.suppress(OSError):
                    newest = max(newest, item.stat(follow_symlinks=False).st_mtime)
    except OSError:
        pass
    return newest
