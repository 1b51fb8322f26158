"""Raw monitor settings from the three layers (file, environment, flags), each value with where it came from.

The file may be INI (``[dbt_monitor]`` and ``[dbt_monitor.syncer.NAME]`` sections) or TOML (the same
tables). Environment variables follow the original Databand convention: ``DBND__DBT_MONITOR__<KEY>``
for the main section and ``DBND__DBT_MONITOR__SYNCER__<NAME>__<KEY>`` for a syncer.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

MAIN_SECTION = "dbt_monitor"
SYNCER_PREFIX = "dbt_monitor.syncer."
ENV_PREFIX = "DBND__DBT_MONITOR__"
SYNCER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class MonitorConfigError(ValueError):
    """Bad monitor configuration; the message names the file, section and key (or env var / flag) to fix."""


@dataclass(frozen=True)
class RawValue:
    """A setting before parsing: its value and a human description of where it was set."""

    value: Any
    origin: str


@dataclass
class RawSettings:
    """All settings from one layer: main-section keys, and keys per syncer name."""

    main: dict[str, RawValue] = field(default_factory=dict)
    syncers: dict[str, dict[str, RawValue]] = field(default_factory=dict)
    syncer_origins: dict[str, str] = field(default_factory=dict)

    def merge(self, other: RawSettings) -> None:
        """Overlay ``other`` on this layer (later layers win key by key)."""
        self.main.update(other.main)
        for name, values in other.syncers.items():
            self.syncers.setdefault(name, {}).update(values)
            self.syncer_origins.setdefault(name, other.syncer_origins.get(name, name))


def _check_syncer_name(name: str, origin: str) -> str:
    if not SYNCER_NAME.match(name):
        raise MonitorConfigError(
            f"{origin}: syncer name {name!r} must be 1-100 letters, digits, '_', '-' or '.' "
            "(it is used as a metric label and cursor key)"
        )
    return name


def read_config_file(path: Path) -> RawSettings:
    """Read ``path`` as TOML when it ends in ``.toml``, else as INI; other sections are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MonitorConfigError(f"{path}: config file not found (pass --config or set DATABAND_DBT_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitorConfigError(f"{path}: cannot read config file: {exc}") from None
    if path.suffix.lower() == ".toml":
        return _read_toml(path, text)
    return _read_ini(path, text)


def _read_ini(path: Path, text: str) -> RawSettings:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise MonitorConfigError(f"{path}: not a valid INI file: {exc}") from None
    settings = RawSettings()
    for section in parser.sections():
        values = {
            key: RawValue(parser.get(section, key), f"{path} [{section}] {key}") for key in parser.options(section)
        }
        if section == MAIN_SECTION:
            settings.main.update(values)
        elif section.startswith(SYNCER_PREFIX):
            name = _check_syncer_name(section[len(SYNCER_PREFIX) :], f"{path} [{section}]")
            settings.syncers[name] = values
            settings.syncer_origins[name] = f"{path} [{section}]"
        elif section.startswith(MAIN_SECTION + "."):
            raise MonitorConfigError(f"{path} [{section}]: unknown section; syncers are named [{SYNCER_PREFIX}NAME]")
    return settings


def _read_toml(path: Path, text: str) -> RawSettings:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib  # type: ignore[no-redef]  # same loads() API, Python < 3.11 only
        except ImportError:
            raise MonitorConfigError(
                f"{path}: TOML needs Python 3.11+ or the 'tomli' package; use an INI file"
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MonitorConfigError(f"{path}: not a valid TOML file: {exc}") from None
    settings = RawSettings()
    table = data.get(MAIN_SECTION, {})
    if not isinstance(table, dict):
        raise MonitorConfigError(f"{path} [{MAIN_SECTION}]: must be a table")
    syncer_tables = table.get("syncer", {})
    if not isinstance(syncer_tables, dict):
        raise MonitorConfigError(
            f"{path} [{MAIN_SECTION}] syncer: must hold one table per syncer, [{SYNCER_PREFIX}NAME]"
        )
    for key, value in table.items():
        if key == "syncer":
            continue
        if isinstance(value, dict):
            raise MonitorConfigError(
                f"{path} [{MAIN_SECTION}.{key}]: unknown section; syncers are named [{SYNCER_PREFIX}NAME]"
            )
        settings.main[key.lower()] = RawValue(value, f"{path} [{MAIN_SECTION}] {key}")
    for name, values in syncer_tables.items():
        section = f"{SYNCER_PREFIX}{name}"
        _check_syncer_name(name, f"{path} [{section}]")
        if not isinstance(values, dict):
            raise MonitorConfigError(f"{path} [{section}]: must be a table of keys")
        settings.syncers[name] = {
            key.lower(): RawValue(value, f"{path} [{section}] {key}") for key, value in values.items()
        }
        settings.syncer_origins[name] = f"{path} [{section}]"
    return settings


def read_environment(environ: Mapping[str, str]) -> RawSettings:
    """``DBND__DBT_MONITOR__<KEY>`` and ``DBND__DBT_MONITOR__SYNCER__<NAME>__<KEY>`` variables."""
    settings = RawSettings()
    for var, value in sorted(environ.items()):
        if not var.upper().startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        origin = f"environment variable {var}"
        if len(parts) == 1 and parts[0]:
            settings.main[parts[0].lower()] = RawValue(value, origin)
        elif len(parts) == 3 and parts[0].upper() == "SYNCER" and parts[1] and parts[2]:
            name = _check_syncer_name(parts[1].lower(), origin)
            settings.syncers.setdefault(name, {})[parts[2].lower()] = RawValue(value, origin)
            settings.syncer_origins.setdefault(name, origin)
        else:
            raise MonitorConfigError(f"{origin}: expected {ENV_PREFIX}<KEY> or {ENV_PREFIX}SYNCER__<NAME>__<KEY>")
    return settings


def read_flags(flags: Mapping[str, Any]) -> RawSettings:
    """Main-section keys given on the command line (``None`` means the flag was not passed)."""
    settings = RawSettings()
    for key, value in flags.items():
        if value is not None:
            settings.main[key] = RawValue(value, f"--{key.replace('_', '-')}")
    return settings


def default_config_path(environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read and whether the user chose it (a missing chosen file is an error)."""
    chosen = environ.get("DATABAND_DBT_CONFIG")
    if chosen:
        return Path(chosen).expanduser(), True
    return Path(os.path.expanduser("~/.databand_dbt/monitor.cfg")), False


def resolve_config_path(config: Optional[str], environ: Mapping[str, str]) -> tuple[Path, bool]:
    if config:
        return Path(config).expanduser(), True
    return default_config_path(environ)
