"""Test and demo helpers: the local dbt Cloud API emulator and the real dbt artifacts it serves."""
