"""The alerts config: file, environment overrides, shortcuts, secrets from env/files, one-line errors."""

from __future__ import annotations

import pytest
from alert_helpers import SECRET_PATH, notification, write_config

from airflow_provider_databand_dbt.alerts.config import (
    AlertsConfigError,
    current_alerts_config,
    default_config_path,
    load_alerts_config,
)

SLACK_URL = "https://hooks.slack.com" + SECRET_PATH


def _load(tmp_path, channels, environ=None, **kw):
    path = write_config(tmp_path / "alerts.toml", channels, **kw)
    return load_alerts_config(str(path), environ=environ or {})


def test_a_full_file_is_read_with_every_documented_key(tmp_path):
    secret_file = tmp_path / "smtp-password"
    secret_file.write_text("hunter2-smtp\n")
    config = _load(
        tmp_path,
        [
            {
                "name": "data-team",
                "type": "slack",
                "webhook_url_env": "SLACK_URL",
                "pipelines": [42, "nightly"],
                "rules": ["run_failed", "new_failure"],
                "min_severity": "warning",
                "changes": ["opened", "resolved"],
                "timeout": "3s",
            },
            {
                "name": "oncall",
                "type": "email",
                "smtp_host": "127.0.0.1",
                "security": "ssl",
                "username": "alerts",
                "password_file": str(secret_file),
                "from_address": "alerts@example.com",
                "to": ["a@example.com", "b@example.com"],
            },
        ],
        environ={"SLACK_URL": SLACK_URL},
        delivery={"max_attempts": 4, "backoff_initial": "10s", "inline_seconds": 0},
        web_base_url="https://dbt.example.com/",
    )
    slack, email = config.channels
    assert (slack.name, slack.type, slack.timeout) == ("data-team", "slack", 3.0)
    assert slack.target.url.reveal() == SLACK_URL
    assert slack.filters.pipelines == (42, "nightly")
    assert slack.filters.rules == ("run_failed", "new_failure")
    assert email.target.smtp_port == 465  # the default port of implicit TLS
    assert email.target.password.reveal() == "hunter2-smtp"
    assert email.target.to == ("a@example.com", "b@example.com")
    assert config.delivery.max_attempts == 4 and config.delivery.backoff_initial == 10.0
    assert config.delivery.inline_seconds == 0
    assert config.web_base_url == "https://dbt.example.com"
    shown = repr(config) + str(slack.describe_target())
    assert "SECRET" not in shown and "hunter2" not in shown


def test_rules_section_is_exposed_as_a_plain_dict_and_env_overrides_it(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text("[rules]\nduration_k = 2.0\nmin_runs = 5\n")
    config = load_alerts_config(str(path), environ={"DATABAND_DBT_ALERTS__RULES__MIN_RUNS": "8"})
    assert config.rules == {"duration_k": 2.0, "min_runs": "8"}
    assert not config.active  # no channel


def test_environment_overrides_file_keys_and_can_define_a_channel(tmp_path):
    environ = {
        "SLACK_URL": SLACK_URL,
        "DATABAND_DBT_ALERTS__CHANNEL__DATA_TEAM__MIN_SEVERITY": "error",
        "DATABAND_DBT_ALERTS__CHANNEL__HOOK__TYPE": "webhook",
        "DATABAND_DBT_ALERTS__CHANNEL__HOOK__URL_ENV": "SLACK_URL",
        "DATABAND_DBT_ALERTS__CHANNEL__HOOK__PIPELINES": "7, 8",
        "DATABAND_DBT_ALERTS__DELIVERY__MAX_ATTEMPTS": "2",
        "DATABAND_DBT_ALERTS__WEB_BASE_URL": "http://127.0.0.1:8080",
    }
    config = _load(tmp_path, [{"name": "data-team", "type": "slack", "webhook_url_env": "SLACK_URL"}], environ=environ)
    assert config.channel("data-team").filters.min_severity == "error"
    assert config.channel("hook").filters.pipelines == (7, 8)
    assert config.delivery.max_attempts == 2
    assert config.web_base_url == "http://127.0.0.1:8080"


def test_shortcuts_need_no_file_and_turn_every_rule_on(tmp_path):
    environ = {
        "DATABAND_DBT_ALERTS_CONFIG": "",
        "HOME": str(tmp_path),
        "DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL": SLACK_URL,
        "DATABAND_DBT_ALERT_WEBHOOK_URL": "http://127.0.0.1:9" + SECRET_PATH,
    }
    config = load_alerts_config(environ=environ)
    assert config.path is None
    assert [(c.name, c.type) for c in config.channels] == [("slack", "slack"), ("webhook", "webhook")]
    for channel in config.channels:
        assert channel.filters.rules == () and channel.filters.pipelines == ()
        assert channel.filters.min_severity == "info"
        for rule in ("run_failed", "new_failure", "duration_regression", "source_freshness", "row_count_anomaly"):
            assert channel.filters.matches(notification(rule=rule, severity="info"))


def test_default_location_follows_airflow_home(tmp_path):
    assert default_config_path({"AIRFLOW_HOME": str(tmp_path)}) == (tmp_path / "databand_dbt" / "alerts.toml", False)
    assert default_config_path({"DATABAND_DBT_ALERTS_CONFIG": str(tmp_path / "x.toml")}) == (tmp_path / "x.toml", True)


@pytest.mark.parametrize(
    ("channel", "environ", "expected"),
    [
        ({"name": "a", "type": "pager"}, {}, r"\[\[channels\]\] a type: expected one of slack, teams, webhook, email"),
        ({"name": "a", "type": "slack", "colour": "red"}, {}, r"\[\[channels\]\] a colour: unknown key 'colour'"),
        ({"name": "a", "type": "slack"}, {}, r"\[\[channels\]\] a: required: one of webhook_url_env"),
        ({"name": "a", "type": "slack", "webhook_url_env": "NOPE"}, {}, r"environment variable NOPE is not set"),
        ({"name": "a", "type": "slack", "webhook_url_env": SLACK_URL}, {}, r"webhook_url_env takes the name of"),
        ({"name": "a", "type": "slack", "webhook_url_file": SLACK_URL}, {}, r"webhook_url_file takes the name of"),
        (
            {"name": "a", "type": "slack", "webhook_url_env": "U", "rules": ["nope"]},
            {"U": SLACK_URL},
            r"a rules: expected one of",
        ),
        (
            {"name": "a", "type": "email", "smtp_host": "h", "from_address": "x@y", "to": "nobody"},
            {},
            r"a to: expected e-mail",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_file_channel_and_key(tmp_path, channel, environ, expected):
    with pytest.raises(AlertsConfigError, match=expected) as caught:
        _load(tmp_path, [channel], environ=environ)
    message = str(caught.value)
    assert str(tmp_path / "alerts.toml") in message
    assert "\n" not in message and "SECRET" not in message


def test_a_missing_chosen_file_and_bad_toml_are_clear(tmp_path):
    with pytest.raises(AlertsConfigError, match="alerts config file not found"):
        load_alerts_config(str(tmp_path / "missing.toml"), environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[[channels]\n")
    with pytest.raises(AlertsConfigError, match="not a valid TOML file"):
        load_alerts_config(str(bad), environ={})
    with pytest.raises(AlertsConfigError, match="DATABAND_DBT_ALERTS__BOGUS: expected"):
        load_alerts_config(str(write_config(tmp_path / "ok.toml", [])), environ={"DATABAND_DBT_ALERTS__BOGUS": "1"})


def test_a_shortcut_clashing_with_a_file_channel_is_an_error(tmp_path):
    environ = {"DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL": SLACK_URL, "U": SLACK_URL}
    with pytest.raises(AlertsConfigError, match="defines the channel 'slack'.*has that name too"):
        _load(tmp_path, [{"name": "slack", "type": "slack", "webhook_url_env": "U"}], environ=environ)


def test_a_secret_written_in_the_file_works_with_a_warning_that_does_not_show_it(tmp_path, caplog):
    config = _load(tmp_path, [{"name": "a", "type": "teams", "webhook_url": SLACK_URL}])
    assert config.channel("a").target.url.reveal() == SLACK_URL
    assert "prefer webhook_url_env" in caplog.text and "SECRET" not in caplog.text


def test_current_config_is_reloaded_when_the_file_changes(tmp_path, monkeypatch):
    path = write_config(tmp_path / "alerts.toml", [])
    monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(path))
    monkeypatch.setenv("U", SLACK_URL)
    assert not current_alerts_config().active
    assert current_alerts_config() is current_alerts_config()
    write_config(path, [{"name": "a", "type": "slack", "webhook_url_env": "U", "min_severity": "warning"}])
    assert current_alerts_config().channel("a") is not None


def test_a_rotated_secret_file_is_read_again_without_a_restart(tmp_path, monkeypatch):
    """A Kubernetes secret volume swaps the file under a running monitor; the next run uses the new secret."""
    secret_file = tmp_path / "slack-url"
    secret_file.write_text(SLACK_URL + "/old\n")
    path = write_config(
        tmp_path / "alerts.toml", [{"name": "a", "type": "slack", "webhook_url_file": str(secret_file)}]
    )
    monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(path))
    first = current_alerts_config()
    assert first.channel("a").target.url.reveal() == SLACK_URL + "/old"
    assert current_alerts_config() is first  # unchanged files: the cached config
    rotated = tmp_path / "slack-url.new"
    rotated.write_text(SLACK_URL + "/new\n")
    rotated.replace(secret_file)  # an atomic swap, as the kubelet does
    assert current_alerts_config().channel("a").target.url.reveal() == SLACK_URL + "/new"


def test_filters_match_pipelines_by_id_or_name_rules_severity_and_changes(tmp_path):
    config = _load(
        tmp_path,
        [
            {
                "name": "a",
                "type": "slack",
                "webhook_url_env": "U",
                "pipelines": [7, "nightly"],
                "min_severity": "warning",
            }
        ],
        environ={"U": SLACK_URL},
    )
    filters = config.channel("a").filters
    assert filters.matches(notification())  # job name "nightly"
    assert not filters.matches(
        notification(pipeline=notification().pipeline.__class__(host="h", account_id=1, job_id=8))
    )
    assert filters.matches(notification(pipeline=notification().pipeline.__class__(host="h", account_id=1, job_id=7)))
    assert not filters.matches(notification(severity="info"))
    assert filters.matches(notification(change="updated"))  # sent when the rules publish it (notify_updates)


def test_the_example_config_in_deploy_is_valid(tmp_path):
    from pathlib import Path

    example = Path(__file__).parents[2] / "deploy" / "alerts.example.toml"
    teams_secret = tmp_path / "teams"
    teams_secret.write_text("https://example.webhook.office.com/workflows/x")
    text = example.read_text().replace("/run/secrets/teams_platform_webhook", str(teams_secret))
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    environ = {
        "SLACK_DATA_TEAM_WEBHOOK": SLACK_URL,
        "INCIDENT_TOOL_URL": "https://incidents.example.com/hook",
        "INCIDENT_TOOL_SECRET": "s",
        "SMTP_PASSWORD": "p",
    }
    config = load_alerts_config(str(path), environ=environ)
    assert [c.name for c in config.channels] == ["data-team", "platform", "incident-tool", "oncall"]
    assert config.rules == {"k": 1.5, "window": 20, "min_runs": 5}
    assert config.channel("oncall").target.smtp_port == 587
