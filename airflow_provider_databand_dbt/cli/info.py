"""``databand-dbt info`` (and ``--version``): the version, which tracking store is used and why, and its state.

The default store follows ``AIRFLOW_HOME``, so a shell without it reads another store than Airflow's tasks
write: this says which one is read, which rule chose it, and points at a store that may be the one meant.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_databand_dbt import __version__
from airflow_provider_databand_dbt.cli import options

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.tracking.url import TrackingUrlChoice

# Where Airflow keeps its home when AIRFLOW_HOME is not set.
AIRFLOW_DEFAULT_HOME = "~/airflow"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show the version and which tracking store is used, why, and what it holds",
        description="Show the version, the tracking store in use and the rule that chose it, and whether "
        "it exists. Creates nothing.",
    )
    options.add_tracking_url(parser)
    options.add_json(parser)
    parser.set_defaults(func=run)


class VersionAction(argparse.Action):
    """``--version``: the version and the store in use, on separate lines (argparse's own action joins lines)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"databand-dbt {__version__}")
        print(f"tracking store: {options.store_in_use()}")
        parser.exit()


def run(args: argparse.Namespace) -> int:
    from airflow_provider_databand_dbt.tracking.url import PRECEDENCE, display_url

    choice = options.store_choice(args)
    state, ok = store_state(choice)
    other = other_default_store(choice)
    if args.json:
        data = {
            "version": __version__,
            "python": platform.python_version(),
            "tracking_store": {
                "url": display_url(choice.url),
                "chosen_by": choice.reason,
                "precedence": PRECEDENCE,
                "state": state,
                "other_store": other and str(other[0]),
            },
        }
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0 if ok else 1
    print(f"databand-dbt {__version__} (Python {platform.python_version()})")
    print(f"tracking store: {display_url(choice.url)}")
    print(f"  chosen by: {choice.reason}")
    print(f"  precedence: {PRECEDENCE}")
    print(f"  state: {state}")
    if other is not None:
        print(
            f"  note: another store exists at {other[0]} ({other[1]}); read it with --tracking-url sqlite:///{other[0]}"
        )
    return 0 if ok else 1


def store_state(choice: TrackingUrlChoice) -> tuple[str, bool]:
    """What the store holds, read without creating or changing it; False when it exists but cannot be read."""
    from airflow_provider_databand_dbt.tracking.errors import TrackingError, TrackingStoreMissing
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    try:
        with TrackingStore(choice.url, read_only=True) as store:
            return f"{len(store.list_pipelines())} pipeline(s), {store.count_runs()} run(s)", True
    except TrackingStoreMissing:
        return "not created yet: the first collect, demo, monitor or Airflow task creates it", True
    except TrackingError as exc:
        return f"cannot be read: {exc}", False


def other_default_store(choice: TrackingUrlChoice) -> tuple[Path, str] | None:
    """When a default store was chosen, the other default one if it exists: Airflow's tasks may write there."""
    from airflow_provider_databand_dbt.tracking.url import AIRFLOW_DIR_NAME, DB_FILE_NAME, DEFAULT_DIR_NAME

    if choice.default_dir is None:
        return None
    home_default = Path("~").expanduser() / DEFAULT_DIR_NAME / DB_FILE_NAME
    if choice.default_dir == home_default.parent:
        airflow_default = Path(AIRFLOW_DEFAULT_HOME).expanduser() / AIRFLOW_DIR_NAME / DB_FILE_NAME
        why = f"Airflow's, with its default AIRFLOW_HOME={AIRFLOW_DEFAULT_HOME}, which is not set here"
        return (airflow_default, why) if airflow_default.is_file() else None
    why = "the default when AIRFLOW_HOME is not set"
    return (home_default, why) if home_default.is_file() else None
