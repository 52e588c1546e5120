"""Hand one message to the SMTP server of the settings. Errors propagate: the caller (a Temporal
activity, through outbox.deliver) retries."""
from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from eaflow.settings import Settings


async def send_email(settings: Settings, message: EmailMessage) -> None:
    """Send `message` to the recipients of its To/Cc/Bcc headers; raise on any SMTP error."""
    authenticate = bool(settings.smtp_user)
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user if authenticate else None,
        password=settings.smtp_password if authenticate else None,
        # False, not None: aiosmtplib would otherwise upgrade on its own whenever the server offers it.
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )
