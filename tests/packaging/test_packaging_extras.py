"""A feature whose extra is missing says, in one line, which ``pip install`` fixes it; the core works without any.

Each check runs in a real subprocess in which the extra's modules cannot be imported: in the core venv
of scripts/test.sh (``pip install -e .`` + test tools) they are really absent; in a venv that has them,
the subprocess blocks them first (``sys.modules[name] = None``, how Python spells "not installed").
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# What each extra installs that the package imports, as a user reads it in pyproject.toml.
EXTRA_MODULES = {
    "postgres": ("psycopg", "psycopg2"),
    "ui": ("fastapi", "starlette", "uvicorn", "jinja2"),
    "monitor": ("prometheus_client",),
    "airflow": ("airflow",),
    "openlineage": ("openlineage",),
}
ALL_EXTRAS = tuple(EXTRA_MODULES)
SECRET = "s3cr3t-pw"


def run_without(extras: tuple[str, ...], code: str, tmp_path, *, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where the modules of ``extras`` cannot be imported."""
    blocked = sorted(module for extra in extras for module in EXTRA_MODULES[extra])
    prelude = f"import sys\nfor _name in {blocked!r}:\n    sys.modules[_name] = None\n"
    env = dict(os.environ, DATABAND_DBT_TRACKING_URL=f"sqlite:///{tmp_path / 'tracking.db'}")
    env.pop("DBT_CLOUD_API_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_without(extras: tuple[str, ...], *args: str, tmp_path, timeout: int = 120) -> subprocess.CompletedProcess:
    code = f"from airflow_provider_databand_dbt.cli.main import main\nsys.exit(main({list(args)!r}))\n"
    return run_without(extras, code, tmp_path, timeout=timeout)


def assert_one_line_naming(result: subprocess.CompletedProcess, extra: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"pip install 'airflow-provider-databand-dbt[{extra}]'" in lines[0], lines[0]


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ("ui", ["ui"]),
        ("monitor", ["monitor", "--number-of-iterations", "1"]),
    ],
)
def test_cli_command_without_its_extra_prints_one_line_and_exits_2(extra, args, tmp_path):
    result = cli_without((extra,), *args, tmp_path=tmp_path)
    assert_one_line_naming(result, extra)
    assert f"databand-dbt {args[0]} needs the '{extra}' extra" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://tracker:{SECRET}@127.0.0.1:9/tracking",
        f"postgresql://tracker:{SECRET}@127.0.0.1:9/tracking",
    ],
)
def test_postgres_store_without_driver_names_the_extra_and_hides_the_password(url, tmp_path):
    result = cli_without(("postgres",), "runs", "--tracking-url", url, tmp_path=tmp_path)
    assert_one_line_naming(result, "postgres")
    assert SECRET not in result.stderr + result.stdout


def test_postgres_store_without_driver_is_a_typed_error_for_the_api(tmp_path):
    result = run_without(
        ("postgres",),
        f"""
        from airflow_provider_databand_dbt.extras import MissingExtraError
        from airflow_provider_databand_dbt.tracking.errors import TrackingDriverMissing, TrackingError
        from airflow_provider_databand_dbt.tracking.store import TrackingStore
        try:
            TrackingStore("postgresql+psycopg://tracker:{SECRET}@127.0.0.1:9/tracking")
        except TrackingDriverMissing as exc:
            assert isinstance(exc, TrackingError) and isinstance(exc, MissingExtraError), type(exc).__mro__
            assert exc.extra == "postgres", exc.extra
            print(exc)
        else:
            raise SystemExit("no error")
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'airflow-provider-databand-dbt[postgres]'" in result.stdout
    assert SECRET not in result.stdout


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("airflow_provider_databand_dbt.hooks", "airflow"),
        ("airflow_provider_databand_dbt.operators", "airflow"),
        ("airflow_provider_databand_dbt.sensors", "airflow"),
        ("airflow_provider_databand_dbt.triggers", "airflow"),
        ("airflow_provider_databand_dbt.www.app", "ui"),
        ("airflow_provider_databand_dbt.monitor.daemon", "monitor"),
    ],
)
def test_importing_a_layer_without_its_extra_raises_missing_extra_error(module, extra, tmp_path):
    result = run_without(
        (extra,),
        f"""
        import importlib
        from airflow_provider_databand_dbt.extras import MissingExtraError
        try:
            importlib.import_module({module!r})
        except MissingExtraError as exc:
            assert exc.extra == {extra!r}, exc.extra
            print(exc)
        else:
            raise SystemExit("imported without the extra")
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"pip install 'airflow-provider-databand-dbt[{extra}]'" in result.stdout


def test_demo_runs_with_the_core_install_only(tmp_path):
    """The README's first command: ``pip install -e .`` then ``databand-dbt demo``."""
    result = cli_without(ALL_EXTRAS, "demo", tmp_path=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "databand-dbt runs" in result.stdout


def test_every_command_is_listed_without_any_extra(tmp_path):
    result = cli_without(ALL_EXTRAS, "--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("collect", "runs", "show", "monitor", "ui", "emulator", "demo", "info"):
        assert f"    {command}" in result.stdout, (command, result.stdout)


def test_a_command_module_that_cannot_be_imported_is_an_error_not_a_missing_command(tmp_path):
    """The old registry skipped a command whose module was missing ("not built yet"), so a broken install
    silently lost ``databand-dbt ui``; every command is built now, so that is an import error."""
    result = run_without(
        (),
        """
        sys.modules["airflow_provider_databand_dbt.cli.ui"] = None
        from airflow_provider_databand_dbt.cli.main import main
        sys.exit(main(["--help"]))
    """,
        tmp_path,
    )
    assert result.returncode != 0, result.stdout
    assert "airflow_provider_databand_dbt.cli.ui" in result.stderr


@pytest.mark.skipif(os.environ.get("DATABAND_DBT_CORE_VENV") != "1", reason="only in the core venv of scripts/test.sh")
def test_the_core_venv_really_has_no_extra():
    """scripts/test.sh sets DATABAND_DBT_CORE_VENV=1 for its core run: prove the blocking above is not needed."""
    from airflow_provider_databand_dbt.extras import installed_extras

    assert installed_extras() == dict.fromkeys(ALL_EXTRAS, False)
