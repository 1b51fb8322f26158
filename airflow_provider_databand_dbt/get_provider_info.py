"""What this provider offers Airflow: the ``apache_airflow_provider`` entry point returns it.

Airflow calls this while it loads its configuration, so the module imports nothing from Airflow
or from the rest of the package. The ``dbt_cloud`` connection type stays registered by the dbt
Cloud provider: our hook reuses it, so users configure one connection.
"""

from __future__ import annotations

from typing import Any

PACKAGE = "airflow_provider_databand_dbt"
INTEGRATION = "dbt Cloud tracking"


def _modules(*names: str) -> list[dict[str, Any]]:
    return [{"integration-name": INTEGRATION, "python-modules": [f"{PACKAGE}.{name}" for name in names]}]


def get_provider_info() -> dict[str, Any]:
    """The provider metadata Airflow validates against its ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-databand-dbt",
        "name": "Databand dbt Cloud tracking",
        "description": "Run, watch and track dbt Cloud jobs: every run, step and node, stored and browsable.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.getdbt.com/docs/dbt-cloud-apis/admin-cloud-api",
                "tags": ["dbt", "service"],
            }
        ],
        "hooks": _modules("hooks.dbt"),
        "operators": _modules("operators.dbt"),
        "sensors": _modules("sensors.dbt"),
        "triggers": _modules("triggers.dbt"),
        # The old path too: Airflow 2 refuses to load a DAG serialized with an unregistered link path.
        "extra-links": [
            f"{PACKAGE}.utils.links.DbtCloudTrackedRunLink",
            f"{PACKAGE}.operators.links.DbtCloudTrackedRunLink",
        ],
        "config": {
            "databand_dbt": {
                "description": "Where dbt Cloud runs tracked from Airflow are stored and browsed.",
                "options": {
                    "tracking_url": {
                        "description": (
                            "SQLAlchemy URL of the tracking store (SQLite or PostgreSQL). Empty: the "
                            "DATABAND_DBT_TRACKING_URL environment variable, else a SQLite file under "
                            "$AIRFLOW_HOME/databand_dbt/."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "postgresql+psycopg://airflow:secret@db:5432/tracking",
                        "default": None,
                        "sensitive": True,
                    },
                    "web_url": {
                        "description": (
                            "Base URL of the tracking web view (databand-dbt ui); the operators' extra "
                            "link and the XCom summary point to <web_url>/runs/<run_id>."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://dbt-tracking.example.com",
                        "default": "http://127.0.0.1:8788",
                    },
                    "airflow_base_url": {
                        "description": (
                            "Base URL of the Airflow UI that task links of the tracking web view, CLI and JSON "
                            "API point to (runs triggered or tracked by a task). Empty: [api] base_url in the "
                            "Airflow plugin; processes without Airflow read DATABAND_DBT_AIRFLOW_BASE_URL."
                        ),
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://airflow.example.com",
                        "default": None,
                    },
                },
            }
        },
    }
