"""Who holds a syncer's lease: hostname, pid and process start time.

A monitor restarted on the same host can then prove its predecessor dead and take the lease over at
once instead of waiting for it to expire. The "host" includes the PID namespace: pids are only
comparable inside one, and two containers sharing a hostname (host networking) must never judge
each other's pids. Another host, or a container restarted in a new PID namespace, waits for expiry.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Optional

# The lease owner column is 255 characters: hostname first, then pid, start time and a random part.
MAX_HOSTNAME = 200
UNKNOWN_START = "-"


def process_start(pid: int) -> Optional[str]:
    """The process start time in clock ticks since boot (Linux ``/proc``); None when there is no such process.

    Returns :data:`UNKNOWN_START` where ``/proc`` is missing (not Linux) and the process exists.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # /proc works, this pid does not exist
        return UNKNOWN_START if _pid_exists(pid) else None
    except OSError:
        return UNKNOWN_START
    # The command name (field 2) may contain spaces and parentheses: count fields after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else UNKNOWN_START


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def hostname() -> str:
    """``name`` or ``name/<pid namespace inode>``: where a pid means one process."""
    name = socket.gethostname()[:MAX_HOSTNAME].replace(":", "_")
    try:
        namespace = "".join(ch for ch in os.readlink("/proc/self/ns/pid") if ch.isdigit())
    except OSError:
        namespace = ""
    return f"{name}/{namespace}" if namespace else name


def lease_owner() -> str:
    """``host:pid:start:random``, unique per monitor process and recognisable by its successor."""
    pid = os.getpid()
    return f"{hostname()}:{pid}:{process_start(pid) or UNKNOWN_START}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(owner: str, *, host: Optional[str] = None) -> bool:
    """True only when ``owner`` names a process on this host that provably no longer runs.

    Owners from another host, in an unknown format, or whose process may still run are alive.
    """
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != (host or hostname()):
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    start = parts[2] if len(parts) >= 4 else UNKNOWN_START
    current = process_start(pid)
    if current is None:
        return True
    # The pid exists: dead only if it is provably another process (its start time differs: pid reused,
    # or a restarted container whose monitor is pid 1 again).
    return UNKNOWN_START not in (start, current) and start != current
