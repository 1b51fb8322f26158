import sys

from airflow_provider_databand_dbt.cli.main import main

sys.exit(main())
