"""Dataset namespaces and names from dbt's relations, after the OpenLineage naming spec where artifacts allow.

The name is ``database.schema.alias`` (BigQuery: ``project.dataset.table``, the same three parts). The
namespace should name the warehouse instance (``snowflake://<org>-<account>``, ``postgres://host:port``),
which dbt artifacts do not contain; so it is ``<adapter>://<database>`` (BigQuery: ``bigquery``, as the spec
says), unless ``DATABAND_DBT_OPENLINEAGE_DATASET_NAMESPACE`` gives the real one.
"""

from __future__ import annotations

from typing import Optional

import msgspec

from airflow_provider_databand_dbt.model.lineage import Relation, RunLineage
from airflow_provider_databand_dbt.model.report import RunReport

# dbt adapter type -> the scheme the OpenLineage naming spec uses, where they differ.
_SCHEMES = {"sqlserver": "mssql", "fabric": "mssql", "athena": "awsathena"}
# Adapters whose spec namespace is a constant (the project is part of the dataset name).
_FIXED_NAMESPACES = {"bigquery": "bigquery"}


class DatasetRef(msgspec.Struct, frozen=True):
    namespace: str
    name: str


def dataset_namespace(adapter_type: Optional[str], database: Optional[str], override: Optional[str] = None) -> str:
    """The namespace of a relation of ``database`` in a warehouse reached by ``adapter_type``."""
    if override:
        return override
    adapter = (adapter_type or "dbt").lower()
    if adapter in _FIXED_NAMESPACES:
        return _FIXED_NAMESPACES[adapter]
    scheme = _SCHEMES.get(adapter, adapter)
    return f"{scheme}://{database}" if database else f"{scheme}://"


def dataset_name(database: Optional[str], schema: Optional[str], name: Optional[str]) -> Optional[str]:
    """``database.schema.alias``, without the parts dbt did not give; None without a relation name."""
    if not name:
        return None
    return ".".join(part for part in (database, schema, name) if part)


class DatasetIndex:
    """Every relation the run touched, by node unique_id: executed nodes first, then parents from the manifest."""

    def __init__(self, report: RunReport, lineage: Optional[RunLineage], override: Optional[str] = None) -> None:
        self.adapter_type = lineage.adapter_type if lineage is not None else None
        self.override = override
        self._relations: dict[str, Relation] = dict(lineage.parents) if lineage is not None else {}
        for _, node in report.iter_nodes():
            if node.resource_type in ("model", "seed", "snapshot", "source") and node.materialization != "ephemeral":
                self._relations.setdefault(
                    node.unique_id,
                    Relation(
                        resource_type=node.resource_type, database=node.database, schema=node.schema, name=node.alias
                    ),
                )

    def get(self, unique_id: str) -> Optional[DatasetRef]:
        """The dataset of a model, seed, snapshot or source; None for anything else or an unknown relation."""
        relation = self._relations.get(unique_id)
        if relation is None or self.adapter_type is None and self.override is None:
            return None
        name = dataset_name(relation.database, relation.schema, relation.name)
        if name is None:
            return None
        return DatasetRef(dataset_namespace(self.adapter_type, relation.database, self.override), name)
