"""Log hygiene: secrets a client put in a URL never reach the access log.

The API reads tokens only from the ``Authorization`` header, which nothing logs; but a client
may still send ``?token=…`` (or ``?access_token=``, ``?api_key=``…), and uvicorn's access log
writes the path with its query string. The filter rewrites those values to ``***``, and so any
``agf_…`` token wherever it appears in the line.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from fleet.auth import TOKEN_PREFIX

#: Query parameter names (case-insensitive, after percent-decoding) whose values are secrets.
_SECRET_NAME = re.compile(r"token|secret|passw|key|auth|credential|signature|session", re.I)
_QUERY = re.compile(r"\?\S*")
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-%.~]+")
#: The loggers that write request lines: uvicorn's access log and its error log.
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with secret query values and API tokens replaced by ``***``."""
    return _TOKEN.sub(TOKEN_PREFIX + "***", _QUERY.sub(_redact_query, text))


def _redact_query(match: re.Match[str]) -> str:
    pairs = []
    for pair in match.group()[1:].split("&"):
        name, sep, value = pair.partition("=")
        secret = _SECRET_NAME.search(unquote_plus(name)) or TOKEN_PREFIX in unquote_plus(value)
        pairs.append(f"{name}{sep}***" if sep and secret else pair)
    return "?" + "&".join(pairs)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and string arguments with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Install :class:`RedactSecrets` on uvicorn's loggers (once, however often called)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
