"""E-mail over SMTP (``smtplib``): plain text plus a simple HTML part, STARTTLS, implicit TLS or none.

TLS verifies the server's certificate against the system's CAs, or ``ca_file`` (a private CA).
Errors name the server and the SMTP reply code, never the password.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from airflow_provider_databand_dbt.alerts.channels import text
from airflow_provider_databand_dbt.alerts.channels.base import DeliveryError
from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig, EmailTarget
from airflow_provider_databand_dbt.alerts.notification import AlertNotification
from airflow_provider_databand_dbt.alerts.secrets import redact

# Replies that say the message or the login itself is refused: retrying cannot help.
_PERMANENT_CODES = range(500, 600)


def build_message(notification: AlertNotification, target: EmailTarget) -> EmailMessage:
    """The e-mail: subject, plain text body and an HTML alternative."""
    message = EmailMessage()
    subject = f"{target.subject_prefix} {text.headline(notification)}".strip()
    message["Subject"] = " ".join(subject.split())[:200]
    message["From"] = target.from_address
    message["To"] = ", ".join(target.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="databand-dbt")
    message.set_content(text.plain_text(notification))
    message.add_alternative(_html(notification), subtype="html")
    return message


def _html(notification: AlertNotification) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><th align='left' style='padding-right:12px'>{esc(label)}</th><td>{esc(value)}</td></tr>"
        for label, value in text.facts(notification)
    )
    parts = [f"<h2>{esc(text.headline(notification))}</h2>", f"<table>{rows}</table>"]
    error = text.error_message(notification)
    if error:
        parts.append(f"<pre style='background:#f6f8fa;padding:8px;white-space:pre-wrap'>{esc(error)}</pre>")
    skipped = text.skipped_summary(notification)
    if skipped:
        parts.append(f"<p>{esc(skipped)}</p>")
    links = " &middot; ".join(
        f"<a href='{esc(url, quote=True)}'>{esc(label)}</a>" for label, url in text.links(notification)
    )
    if links:
        parts.append(f"<p>{links}</p>")
    return "<html><body>" + "".join(parts) + "</body></html>"


class EmailChannel:
    """Sends each notification as one e-mail to the configured recipients."""

    def __init__(self, config: ChannelConfig) -> None:
        assert isinstance(config.target, EmailTarget)
        self.config = config
        self.target = config.target

    def send(self, notification: AlertNotification, timeout: float) -> None:
        target = self.target
        server = f"{target.smtp_host}:{target.smtp_port}"
        try:
            with self._connect(max(timeout, 0.05)) as smtp:
                if target.username and target.password is not None:
                    smtp.login(target.username, target.password.reveal())
                smtp.send_message(build_message(notification, target))
        except smtplib.SMTPResponseException as exc:
            reply = (
                exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            )
            message = redact(
                f"SMTP server {server} answered {exc.smtp_code}: {' '.join(reply.split())[:120]}", [target.password]
            )
            raise DeliveryError(message, retryable=exc.smtp_code not in _PERMANENT_CODES) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(f"SMTP server {server} refused every recipient", retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"cannot send through SMTP server {server} ({type(exc).__name__})") from exc

    def _connect(self, timeout: float) -> smtplib.SMTP:
        target = self.target
        if target.security == "ssl":
            return smtplib.SMTP_SSL(target.smtp_host, target.smtp_port, timeout=timeout, context=self._tls())
        smtp = smtplib.SMTP(target.smtp_host, target.smtp_port, timeout=timeout)
        try:
            if target.security == "starttls":
                smtp.starttls(context=self._tls())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.target.ca_file or None)
