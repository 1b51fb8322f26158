"""E-mail against a real local SMTP server (aiosmtpd): plain text + HTML, STARTTLS, implicit TLS, login."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from email import policy

import pytest
from alert_helpers import config, notification

from airflow_provider_databand_dbt.alerts.channels import DeliveryError, build_channel

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "smtp-Pa55word-SECRET"


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"alerts"
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the client trusts it through ca_file)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _server(inbox, certificate=None, mode="none", **kw):
    options = {}
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*map(str, certificate))
        options = {"ssl_context": context} if mode == "ssl" else {"tls_context": context, "require_starttls": True}
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=_free_port(), **options, **kw)
    controller.start()
    return controller


def _email_channel(tmp_path, port, **keys):
    channel = {
        "name": "mail",
        "type": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "security": "none",
        "from_address": "alerts@example.com",
        "to": ["oncall@example.com", "data@example.com"],
        **keys,
    }
    cfg = config(tmp_path, [channel], environ={"SMTP_PASSWORD": PASSWORD})
    return build_channel(cfg.channel("mail"))


def test_plain_smtp_sends_text_and_html(tmp_path):
    inbox = Inbox()
    controller = _server(inbox)
    try:
        _email_channel(tmp_path, controller.port).send(notification(), timeout=5)
    finally:
        controller.stop()
    ((mail_from, recipients, message),) = inbox.messages
    assert mail_from == "alerts@example.com"
    assert recipients == ["oncall@example.com", "data@example.com"]
    assert message["Subject"] == "[dbt alert] \U0001f534 fct_orders failed"
    text = message.get_body(("plain",)).get_content()
    assert "Pipeline: nightly (job 42)" in text and "column <amount> does not exist" in text
    assert "1 node skipped downstream: orders_daily" in text
    assert "Run page: http://127.0.0.1:8080/runs/70001" in text
    html = message.get_body(("html",)).get_content()
    assert "column &lt;amount&gt; does not exist" in html
    assert "<a href='https://cloud.getdbt.com/deploy/1/projects/1/runs/70001'>Open in dbt Cloud</a>" in html


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_verify_the_server_against_ca_file_and_log_in(tmp_path, certificate, mode):
    inbox = Inbox()
    controller = _server(inbox, certificate, mode, authenticator=_authenticator, auth_require_tls=mode == "starttls")
    try:
        channel = _email_channel(
            tmp_path,
            controller.port,
            security=mode,
            ca_file=str(certificate[0]),
            username="alerts",
            password_env="SMTP_PASSWORD",
        )
        channel.send(notification(), timeout=5)
        # Without the CA the certificate is refused: a clear, retryable error.
        untrusting = _email_channel(tmp_path, controller.port, security=mode)
        with pytest.raises(
            DeliveryError, match=r"cannot send through SMTP server 127.0.0.1:\d+ \(SSLCertVerificationError\)"
        ):
            untrusting.send(notification(), timeout=5)
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_a_refused_login_is_permanent_and_never_shows_the_password(tmp_path, caplog):
    inbox = Inbox()
    controller = _server(inbox, authenticator=_authenticator, auth_require_tls=False)
    try:
        channel = _email_channel(tmp_path, controller.port, username="wrong", password_env="SMTP_PASSWORD")
        with pytest.raises(DeliveryError) as caught:
            channel.send(notification(), timeout=5)
    finally:
        controller.stop()
    assert caught.value.retryable is False
    assert str(caught.value).startswith("SMTP server 127.0.0.1:")
    assert "535" in str(caught.value)
    assert PASSWORD not in str(caught.value) + caplog.text + repr(channel.config)
    assert inbox.messages == []


def test_an_unreachable_smtp_server_is_retryable(tmp_path):
    with pytest.raises(
        DeliveryError, match=r"cannot send through SMTP server 127.0.0.1:\d+ \(ConnectionRefusedError\)"
    ) as caught:
        _email_channel(tmp_path, _free_port()).send(notification(), timeout=2)
    assert caught.value.retryable
