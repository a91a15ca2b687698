"""Sending one message: a webhook POST signed with HMAC-SHA256, or an e-mail over SMTP.

Both raise :class:`DeliveryError` with a short reason (never the secret or a password) when the
other side did not take the message; the worker records it as a failed attempt and retries.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid

SIGNATURE_HEADER = "X-Agrifleet-Signature"
DELIVERY_HEADER = "X-Agrifleet-Delivery"


class DeliveryError(Exception):
    """The message was not taken; the text says why (safe to store and show)."""


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact body bytes with the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, secret: str, body: bytes, delivery_id: int,
                 timeout_s: float) -> str:
    """POST the JSON body; returns "HTTP 2xx", raises DeliveryError otherwise."""
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("not an http(s) URL")
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/json", "User-Agent": "agrifleet-fleet",
        SIGNATURE_HEADER: signature(secret, body), DELIVERY_HEADER: str(delivery_id),
    })
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"no connection: {reason}") from None


def send_email(*, host: str, port: int, sender: str, to: str, subject: str, text: str,
               username: str | None, password: str | None, starttls: bool,
               timeout_s: float) -> str:
    """Send one plain-text UTF-8 e-mail; returns "SMTP accepted"."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if username:
                smtp.login(username, password or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}") from None
    return "SMTP accepted"
