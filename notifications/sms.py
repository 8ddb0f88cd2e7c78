"""SMS backends. The default logs the message; a real gateway is a class with the same
``send`` method named in the ``SMS_BACKEND`` setting."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("notifications.sms")


class LoggingSMSBackend:
    """Writes each SMS to the log instead of sending it (the embedded default)."""

    sent: list[tuple[str, str]] = []  # the last messages, for the demo and tests

    def send(self, *, to: str, message: str) -> None:
        # One line at INFO (the message's first line); the whole text at DEBUG.
        first_line, _newline, rest = message.partition("\n")
        logger.info("SMS to %s: %s%s", to, first_line, " [...]" if rest.strip() else "")
        logger.debug("SMS to %s, whole text:\n%s", to, message)
        LoggingSMSBackend.sent = [*LoggingSMSBackend.sent[-99:], (to, message)]


def sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "notifications.sms.LoggingSMSBackend"))()
