"""Start a real ``databand-dbt ui``, fire parallel requests at it and read its peak memory (VmHWM).

    python tests/www/ui_load.py sqlite:////tmp/big.db /api/runs/424242 --parallel 8

Used by test_bounded.py with a smaller run and by hand with the 116,000-node one (see big_run.py).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


@dataclass
class Load:
    idle_mb: float
    peak_mb: float
    statuses: list[int]
    seconds: list[float]
    sizes: list[int]


class UiServer:
    """``databand-dbt ui`` as a subprocess on a free loopback port."""

    def __init__(self, url: str, *extra: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "airflow_provider_databand_dbt.cli",
            "ui",
            "--port",
            str(self.port),
            "--tracking-url",
            url,
            *extra,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __enter__(self) -> UiServer:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ui exited with {self.process.returncode}: {self.process.stderr.read()}")
            try:
                if httpx.get(f"{self.base}/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("ui did not come up")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.stdout, self.stderr = self.process.communicate(timeout=30)

    def load(self, path: str, parallel: int, *, follow_next: bool = False) -> Load:
        idle = peak_rss_mb(self.process.pid)

        def one(_: int) -> tuple[int, float, int]:
            started = time.monotonic()
            size, status, url = 0, 0, f"{self.base}{path}"
            with httpx.Client(timeout=600) as client:
                while url:
                    response = client.get(url)
                    if response.status_code == 503 and follow_next:  # busy: come back when told
                        time.sleep(float(response.headers.get("retry-after", "1")))
                        continue
                    status, size = response.status_code, size + len(response.content)
                    url = response.links.get("next", {}).get("url") if follow_next and status == 200 else None
                    if url and url.startswith("/"):
                        url = f"{self.base}{url}"
            return status, time.monotonic() - started, size

        with ThreadPoolExecutor(parallel) as pool:
            results = list(pool.map(one, range(parallel)))
        return Load(
            idle,
            peak_rss_mb(self.process.pid),
            [r[0] for r in results],
            [r[1] for r in results],
            [r[2] for r in results],
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("path")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--follow-next", action="store_true", help="fetch every page through Link: rel=next")
    args = parser.parse_args(argv)
    with UiServer(args.url) as server:
        load = server.load(args.path, args.parallel, follow_next=args.follow_next)
    print(
        f"idle {load.idle_mb:.0f} MB, peak {load.peak_mb:.0f} MB; statuses {load.statuses}; "
        f"seconds {min(load.seconds):.1f}-{max(load.seconds):.1f}; bytes {max(load.sizes)}"
    )


if __name__ == "__main__":
    main()
