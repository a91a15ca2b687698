"""Log hygiene: secrets a client put in a URL never reach the access log.

The API reads tokens only from the ``Authorization`` header, which nothing logs; but a client
may still send ``?token=…`` (or ``?access_token=``, ``?api_key=``…), and uvicorn's access log
writes the path with its query string. The filter rewrites those values to ``***``, and so any
service token (``agf_…``), personal token (``agu_…``), session id (``ags_…``), download token
or device cookie (``agd_…``) or invitation (``agi_…``, in the accept link's path) wherever it
appears in the line, in a path or under any parameter name.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

from agrifleet.fleet.modelops.registry.downloads import DOWNLOAD_PREFIX
from agrifleet.fleet.people.auth import TOKEN_PREFIX
from agrifleet.fleet.people.auth.sessions import SESSION_PREFIX
from agrifleet.fleet.people.auth.tokens import PERSONAL_PREFIX
from agrifleet.fleet.people.invitations import INVITATION_PREFIX

#: Query parameter names (case-insensitive, after percent-decoding) whose values are secrets.
_SECRET_NAME = re.compile(r"token|secret|passw|key|auth|credential|signature|session|bearer|"
                          r"cookie", re.I)
_QUERY = re.compile(r"\?\S*")
#: Every kind of secret the fleet hands out starts with one of these.
SECRET_PREFIXES = (TOKEN_PREFIX, PERSONAL_PREFIX, SESSION_PREFIX, DOWNLOAD_PREFIX,
                   INVITATION_PREFIX)
_TOKEN = re.compile("(" + "|".join(re.escape(p) for p in SECRET_PREFIXES)
                    + r")[A-Za-z0-9_\-%.~]+")
#: The loggers that write request lines: uvicorn's access log and its error log.
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """``text`` with secret query values and API tokens replaced by ``***``."""
    return _TOKEN.sub(r"\1***", _QUERY.sub(_redact_query, text))


def _redact_query(match: re.Match[str]) -> str:
    pairs = []
    for pair in match.group()[1:].split("&"):
        name, sep, value = pair.partition("=")
        plain = unquote_plus(value)
        secret = _SECRET_NAME.search(unquote_plus(name)) or any(p in plain for p in SECRET_PREFIXES)
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
