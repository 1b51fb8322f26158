"""The shared vocabulary: report structs, who tracked a run, and statuses with their predicates.

The bottom of the package: it imports nothing from the layers above (dbt_cloud, collector, tracking,
monitor, the Airflow layer, www, cli), so each of them can speak of runs and nodes without importing
another.
"""
