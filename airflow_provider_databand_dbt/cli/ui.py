"""``databand-dbt ui``: serve the read-only web view of the tracking store on this machine."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
from typing import Optional

from airflow_provider_databand_dbt.airflow_links import airflow_base_url_from_env
from airflow_provider_databand_dbt.cli import options
from airflow_provider_databand_dbt.cli.errors import CliUsageError
from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback
from airflow_provider_databand_dbt.extras import require_extra

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8788
ENV_ALLOWED_HOSTS = "DATABAND_DBT_UI_ALLOWED_HOSTS"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="serve the web view of tracked pipelines, runs and nodes (read-only)",
        description=(
            "Serve the web view of the tracking store: pipelines, runs, nodes and a JSON API under /api. "
            "It only reads the store. It has NO authentication: it listens on loopback unless you pass "
            "--allow-remote together with a non-loopback --host (put it behind an authenticating proxy then)."
        ),
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port to listen on (default: %(default)s)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host; the view has no authentication, so anyone who can reach it sees every run",
    )
    parser.add_argument(
        "--airflow-url",
        metavar="URL",
        default=airflow_base_url_from_env() or os.environ.get("AIRFLOW__API__BASE_URL") or None,
        help="Airflow's base URL, to link the task instances that tracked or triggered a run (default: "
        "$DATABAND_DBT_AIRFLOW_BASE_URL, $AIRFLOW__DATABAND_DBT__AIRFLOW_BASE_URL, $AIRFLOW__API__BASE_URL; "
        "no links when unset)",
    )
    parser.add_argument(
        "--allowed-host",
        metavar="NAME[:PORT]",
        action="append",
        default=None,
        help="also answer requests for this Host (repeatable; e.g. the name of a proxy in front of the view; "
        f"'*' for any). Default: ${ENV_ALLOWED_HOSTS} (comma-separated). Loopback names and --host with "
        "--port are always allowed; any other Host gets 400 (protects against DNS rebinding)",
    )
    parser.add_argument(
        "--heavy-requests",
        type=options.positive_count,
        default=2,
        metavar="N",
        help="whole-run requests (run page, run report, Gantt, lineage) served at once; others wait up to "
        "20 s, then get 503 with Retry-After (default: %(default)s)",
    )
    parser.add_argument("--page-size", type=_page_size, default=50, help="rows per page (default: %(default)s)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    options.add_tracking_url(parser)
    parser.set_defaults(func=serve)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {text!r}")
    return value


def _page_size(text: str) -> int:
    value = options.positive_count(text)
    if value > 500:
        raise argparse.ArgumentTypeError(f"page size is at most 500, got {text!r}")
    return value


def _allowed_hosts(flags: Optional[list[str]]) -> list[str]:
    """``--allowed-host`` values (each may hold several, comma-separated), else the environment's."""
    values = flags if flags is not None else [os.environ.get(ENV_ALLOWED_HOSTS, "")]
    from airflow_provider_databand_dbt.www.hosts import split_host

    entries = [entry.strip() for value in values for entry in value.split(",") if entry.strip()]
    for entry in entries:
        try:
            split_host(entry)
        except ValueError:
            raise CliUsageError(f"--allowed-host {entry!r} is not NAME or NAME:PORT (or *)") from None
    return entries


def serve(args: argparse.Namespace) -> int:
    require_extra("ui", "databand-dbt ui")
    if not is_loopback(args.host) and not args.allow_remote:
        raise CliUsageError(
            f"--host {args.host} is not a loopback address and the web view has no authentication: "
            "anyone who can reach it could read every tracked run. Pass --allow-remote to do it anyway "
            "(ideally behind a proxy that authenticates), or keep the default --host 127.0.0.1"
        )
    import uvicorn

    from airflow_provider_databand_dbt.www.app import StoreHandle, create_app
    from airflow_provider_databand_dbt.www.hosts import served_hosts

    extra_hosts = _allowed_hosts(args.allowed_host)
    allowed_hosts = served_hosts(args.host, args.port, extra_hosts)
    listening = _bind(args.host, args.port)
    handle = StoreHandle(args.tracking_url)
    try:
        _ = handle.store  # open now: a wrong URL fails here with a clear message, not on the first page
        app = create_app(
            store=handle,
            airflow_url=args.airflow_url,
            page_size=args.page_size,
            allowed_hosts=allowed_hosts,
            heavy_requests=args.heavy_requests,
        )
        shown_host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"databand-dbt web view of {handle.display_url}", flush=True)
        print(f"listening on http://{shown_host}:{args.port}/ (read-only; no authentication)", flush=True)
        if not is_loopback(args.host):
            log.warning("The web view listens on %s without authentication (--allow-remote)", args.host)
        if args.host.strip("[]") in ("0.0.0.0", "::") and not extra_hosts:
            print(
                "note: only loopback names are answered; pass --allowed-host NAME for each name or address "
                "clients use to reach this machine",
                flush=True,
            )
        config = uvicorn.Config(
            app,
            log_level="info" if args.verbose else "warning",
            access_log=args.access_log,
            server_header=False,
        )
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()
        handle.close()
    return 0


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything says "listening", so a busy port is one clear usage error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart past TIME_WAIT
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CliUsageError(
                f"port {port} on {host} is already in use: stop what listens there or pass another --port"
            ) from None
        raise CliUsageError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
