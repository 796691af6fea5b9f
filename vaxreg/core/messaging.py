"""Messages to citizens and staff — SMS or e-mail — behind one interface.

``message_send(to=..., text=...)`` is all a service calls. Which backend carries the message is a setting
(``VAXREG_MESSAGE_BACKEND``):

- ``console``: prints the message (the demo; an OTP or an outcome can be read from the server's output);
- ``smtp``: e-mail through Django's SMTP settings; a phone number goes to the e-mail-to-SMS gateway
  ``<digits>@VAXREG_SMS_EMAIL_DOMAIN``;
- ``memory``: keeps messages in ``memory_outbox`` (the tests read them there).
"""

import logging
import sys
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    to: str  # a phone number (digits, optional +) or an e-mail address
    text: str
    subject: str = "VaxReg"

    @property
    def is_email(self) -> bool:
        return "@" in self.to


class MessageNotSent(Exception):
    """The backend could not take the message; the caller keeps it to retry."""


class MessageBackend(Protocol):
    def send(self, message: Message) -> None: ...


class ConsoleBackend:
    def send(self, message: Message) -> None:
        channel = "E-MAIL" if message.is_email else "SMS"
        sys.stdout.write(f"[{channel} → {message.to}] {message.text}\n")
        sys.stdout.flush()


class SmtpBackend:
    def send(self, message: Message) -> None:
        if message.is_email:
            address = message.to
        else:
            domain = settings.VAXREG_SMS_EMAIL_DOMAIN
            if not domain:
                raise MessageNotSent("VAXREG_SMS_EMAIL_DOMAIN is not set: SMS cannot be sent through SMTP")
            address = "".join(ch for ch in message.to if ch.isdigit()) + "@" + domain
        try:
            send_mail(message.subject, message.text, None, [address], fail_silently=False)
        except OSError as exc:  # smtplib errors are OSErrors
            raise MessageNotSent(str(exc)) from exc


memory_outbox: list[Message] = []


class MemoryBackend:
    def send(self, message: Message) -> None:
        memory_outbox.append(message)


BACKENDS: dict[str, type[MessageBackend]] = {
    "console": ConsoleBackend,
    "smtp": SmtpBackend,
    "memory": MemoryBackend,
}


def message_backend() -> MessageBackend:
    name = settings.VAXREG_MESSAGE_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"VAXREG_MESSAGE_BACKEND={name!r}: choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]()


def message_send(*, to: str, text: str, subject: str = "VaxReg") -> None:
    """Send one message now; raises ``MessageNotSent`` when the backend refuses it."""
    message_backend().send(Message(to=to, text=text, subject=subject))
    logger.info("message sent to %s", to[:3] + "…")
