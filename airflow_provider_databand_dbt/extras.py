"""Optional extras: which modules each one brings, and the one-line error that names the extra to install.

The core install (``pip install airflow-provider-databand-dbt``) collects, stores into SQLite and
browses from the CLI. Everything else is an extra; a feature that needs one calls :func:`require_extra`
before importing it, so a user reads which ``pip install`` to run instead of a ``ModuleNotFoundError``
traceback. This module imports nothing from the package: any layer may use it.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any

DISTRIBUTION = "airflow-provider-databand-dbt"

# extra -> the modules it installs that our code imports (in the order they are checked).
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "postgres": ("psycopg",),
    "ui": ("fastapi", "uvicorn", "jinja2"),
    "monitor": ("prometheus_client",),
    "airflow": ("airflow", "airflow.providers.dbt.cloud"),
    "openlineage": ("openlineage.client",),
}


def install_command(extra: str) -> str:
    """``pip install 'airflow-provider-databand-dbt[ui]'``: quoted, because shells glob the brackets."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


class MissingExtraError(ImportError):
    """A feature needs an optional extra that is not installed; the message says which ``pip install`` fixes it.

    An :class:`ImportError`, so code that already guards an optional import keeps working.

    :param feature: what the user tried, in their words (``databand-dbt ui``, ``the Airflow hooks``).
    :param extra: the extra to install (a key of :data:`EXTRA_MODULES`).
    :param module: the module found missing.
    """

    def __init__(self, feature: str, extra: str, module: str, *, alternative: str = "") -> None:
        self.feature = feature
        self.extra = extra
        self.module = module
        self.alternative = alternative
        also = f" ({alternative})" if alternative else ""
        super().__init__(
            f"{feature} needs the '{extra}' extra ({module} is not installed): {install_command(extra)}{also}",
            name=module,
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Picklable with its keyword argument, so it crosses process boundaries like any ImportError."""
        return (_rebuild, (type(self), self.feature, self.extra, self.module, self.alternative))


def _rebuild(
    cls: type[MissingExtraError], feature: str, extra: str, module: str, alternative: str
) -> MissingExtraError:
    return cls(feature, extra, module, alternative=alternative)


def missing_module(extra: str) -> str | None:
    """The first module of ``extra`` that cannot be imported here, or None when the extra is installed."""
    for module in EXTRA_MODULES[extra]:
        if not is_importable(module):
            return module
    return None


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` is importable (nothing is imported
    except the parents of a dotted name)."""
    module = missing_module(extra)
    if module is not None:
        raise MissingExtraError(feature, extra, module)


@contextlib.contextmanager
def extra_imports(extra: str, feature: str) -> Iterator[None]:
    """Wrap a module's imports of an extra: one of its modules missing becomes :class:`MissingExtraError`.

    For modules (the Airflow layer, the web app, the monitor daemon) that a user imports directly; any
    other missing module is re-raised as it was.
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not any(
            missing == module or missing.startswith(module + ".") or module.startswith(missing + ".")
            for module in EXTRA_MODULES[extra]
        ):
            raise
        raise MissingExtraError(feature, extra, missing) from exc


def installed_extras() -> dict[str, bool]:
    """Each extra and whether it is installed (``databand-dbt info``)."""
    return {extra: missing_module(extra) is None for extra in EXTRA_MODULES}


def is_importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a missing parent package; ValueError: a module set to None
        return False
