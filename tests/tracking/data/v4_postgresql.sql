CREATE TABLE dbt_tracking_monitor_cursor (
	syncer VARCHAR(255) NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	account_id BIGINT NOT NULL, 
	last_run_id BIGINT, 
	active_run_ids JSON NOT NULL, 
	backfill_done BOOLEAN DEFAULT false NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (syncer)
);

CREATE TABLE dbt_tracking_monitor_failed_run (
	syncer VARCHAR(255) NOT NULL, 
	run_id BIGINT NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	account_id BIGINT NOT NULL, 
	attempts INTEGER NOT NULL, 
	error_kind VARCHAR(32) NOT NULL, 
	reason TEXT NOT NULL, 
	first_failed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_failed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	next_retry_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (syncer, run_id)
);

CREATE TABLE dbt_tracking_monitor_lease (
	syncer VARCHAR(255) NOT NULL, 
	owner VARCHAR(255) NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (syncer)
);

CREATE TABLE dbt_tracking_pipeline (
	id SERIAL NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	account_id BIGINT NOT NULL, 
	job_id BIGINT NOT NULL, 
	name TEXT, 
	project_id BIGINT, 
	project_name TEXT, 
	environment_id BIGINT, 
	environment_name TEXT, 
	first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_dbt_tracking_pipeline_job UNIQUE (host, account_id, job_id)
);

CREATE TABLE dbt_tracking_schema_version (
	version SERIAL NOT NULL, 
	applied_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (version)
);

CREATE TABLE dbt_tracking_run (
	id SERIAL NOT NULL, 
	host VARCHAR(255) NOT NULL, 
	account_id BIGINT NOT NULL, 
	run_id BIGINT NOT NULL, 
	pipeline_id INTEGER, 
	job_id BIGINT, 
	job_name TEXT, 
	project_id BIGINT, 
	project_name TEXT, 
	environment_id BIGINT, 
	environment_name TEXT, 
	status VARCHAR(32) NOT NULL, 
	status_message TEXT, 
	trigger_cause TEXT, 
	git_branch TEXT, 
	git_sha TEXT, 
	dbt_version TEXT, 
	created_at TIMESTAMP WITH TIME ZONE, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	duration_seconds FLOAT, 
	url TEXT, 
	node_count INTEGER DEFAULT '0' NOT NULL, 
	summary JSON NOT NULL, 
	collected_at TIMESTAMP WITH TIME ZONE, 
	first_tracked_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	notes JSON DEFAULT '[]' NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_dbt_tracking_run_key UNIQUE (host, account_id, run_id), 
	FOREIGN KEY(pipeline_id) REFERENCES dbt_tracking_pipeline (id)
);

CREATE TABLE dbt_tracking_node_result (
	id SERIAL NOT NULL, 
	run_pk INTEGER NOT NULL, 
	step_index INTEGER NOT NULL, 
	unique_id VARCHAR(1024) NOT NULL, 
	name TEXT NOT NULL, 
	resource_type TEXT NOT NULL, 
	status VARCHAR(32) NOT NULL, 
	execution_time FLOAT, 
	rows_affected BIGINT, 
	message TEXT, 
	failures BIGINT, 
	depends_on JSON NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	materialization TEXT, 
	tags JSON NOT NULL, 
	package_name TEXT, 
	code_hash TEXT, 
	thread_id TEXT, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_dbt_tracking_node_result_key UNIQUE (run_pk, step_index, unique_id), 
	FOREIGN KEY(run_pk) REFERENCES dbt_tracking_run (id) ON DELETE CASCADE
);

CREATE TABLE dbt_tracking_source (
	id SERIAL NOT NULL, 
	run_pk INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	name VARCHAR(1024), 
	dag_id VARCHAR(250), 
	task_id VARCHAR(250), 
	airflow_run_id VARCHAR(250), 
	try_number INTEGER, 
	map_index INTEGER, 
	hostname VARCHAR(255), 
	tracked_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(run_pk) REFERENCES dbt_tracking_run (id) ON DELETE CASCADE
);

CREATE TABLE dbt_tracking_step (
	id SERIAL NOT NULL, 
	run_pk INTEGER NOT NULL, 
	step_index INTEGER NOT NULL, 
	name TEXT NOT NULL, 
	command TEXT, 
	status VARCHAR(32) NOT NULL, 
	started_at TIMESTAMP WITH TIME ZONE, 
	finished_at TIMESTAMP WITH TIME ZONE, 
	duration_seconds FLOAT, 
	artifacts_missing JSON NOT NULL, 
	reread_failed JSON, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_dbt_tracking_step_index UNIQUE (run_pk, step_index), 
	FOREIGN KEY(run_pk) REFERENCES dbt_tracking_run (id) ON DELETE CASCADE
);

CREATE INDEX ix_dbt_tracking_monitor_failed_run_retry ON dbt_tracking_monitor_failed_run (syncer, next_retry_at);

CREATE INDEX ix_dbt_tracking_run_created ON dbt_tracking_run (created_at, run_id);

CREATE INDEX ix_dbt_tracking_run_job_created ON dbt_tracking_run (job_id, created_at, run_id);

CREATE INDEX ix_dbt_tracking_run_pipeline_created ON dbt_tracking_run (pipeline_id, created_at, run_id);

CREATE INDEX ix_dbt_tracking_run_pipeline_status_created ON dbt_tracking_run (pipeline_id, status, created_at, run_id);

CREATE INDEX ix_dbt_tracking_run_run_id ON dbt_tracking_run (run_id);

CREATE INDEX ix_dbt_tracking_run_status_created ON dbt_tracking_run (status, created_at, run_id);

CREATE INDEX ix_dbt_tracking_node_result_history ON dbt_tracking_node_result (unique_id, run_pk, step_index);

CREATE INDEX ix_dbt_tracking_node_result_run_status ON dbt_tracking_node_result (run_pk, status);

CREATE INDEX ix_dbt_tracking_source_run ON dbt_tracking_source (run_pk);
