"""Entry point of ``databand-dbt``: builds the sub-commands and turns our errors into one line + exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from airflow_provider_databand_dbt.cli import alerts, browse, collect, demo, emulator, info, monitor, ui
from airflow_provider_databand_dbt.cli.errors import CliUsageError
from airflow_provider_databand_dbt.extras import MissingExtraError
from airflow_provider_databand_dbt.monitor.logfmt import TextFormatter
from airflow_provider_databand_dbt.safe_text import escape_controls

# Each module exposes ``register(subparsers)`` and sets ``func(args) -> int`` on its parser. They import
# only the core at load time; a command that needs an extra (ui, monitor) checks for it when it runs.
COMMAND_MODULES = (collect, browse, monitor, ui, emulator, demo, info, alerts)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command whose reader closed the pipe


class _Parser(argparse.ArgumentParser):
    """The top-level parser; its closing lines name the store in use, worked out only when help is printed."""

    def format_help(self) -> str:
        from airflow_provider_databand_dbt.cli import options

        self.epilog = (
            f"tracking store: {options.store_in_use()}; precedence: {options.store_precedence()}; "
            "`databand-dbt info` says more. Exit codes: 0 done, 1 failed, 2 usage error, 130 interrupted, "
            "141 output pipe closed (e.g. | head)."
        )
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="databand-dbt",
        description="Track dbt Cloud runs: collect them, monitor accounts, browse what ran.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (default: warnings and errors only)"
    )
    parser.add_argument("--version", action=info.VersionAction, help="print the version and the tracking store in use")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Commands print their own progress; library INFO lines would repeat it. Long-running
    # commands (monitor, ui, emulator) raise the level themselves.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(TextFormatter())
    # Alembic logs its plugins and context at INFO when a store is created or upgraded: not for users.
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError, DbtCloudError
    from airflow_provider_databand_dbt.tracking.errors import TrackingError

    try:
        code = int(args.func(args) or EXIT_OK)
        sys.stdout.flush()  # inside the try: a reader that went away (``| head``) is noticed here
        return code
    except BrokenPipeError:
        return _reader_gone()
    # Before TrackingError: a missing PostgreSQL driver is both, and installing an extra is the user's fix.
    except (CliUsageError, DbtCloudConfigError, MissingExtraError) as exc:
        _print_error(exc)
        return EXIT_USAGE
    except (DbtCloudError, TrackingError) as exc:
        _print_error(exc)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("databand-dbt: interrupted", file=sys.stderr)
        return 130


def _print_error(exc: Exception) -> None:
    """One line (messages may quote names from dbt Cloud: escaped), then any lines the error lists."""
    print(f"databand-dbt: error: {escape_controls(str(exc))}", file=sys.stderr)
    for line in getattr(exc, "details", ()):
        print(f"  {escape_controls(line)}", file=sys.stderr)


def _reader_gone() -> int:
    """``databand-dbt runs | head``: the reader closed the pipe; stop quietly, as ``cat`` killed by SIGPIPE does."""
    try:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
