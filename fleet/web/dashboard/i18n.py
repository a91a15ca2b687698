"""The dashboard's languages: which one a request gets, and its gettext catalogs and formatters.

Catalogs are the ``.po`` files under ``locale/<lang>/LC_MESSAGES/`` (domains ``messages`` for
the pages and ``diseases`` for crop and disease names and advice). They are compiled in memory
the first time a language is used, so a ``.po`` edit is live on the next start and there is no
``.mo`` file that could be stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal, format_percent

from agrifleet.fleet.catalogs import DEFAULT, LANGUAGES, Lang

#: How each language names itself in the switch.
NATIVE_NAMES: Mapping[Lang, str] = {"vi": "Tiếng Việt", "zh": "中文", "en": "English"}
#: The cookie that remembers a ?lang= choice.
LANG_COOKIE = "agrifleet_lang"


def pick(query: str | None, cookie: str | None, accept_language: str | None,
         user: str | None = None) -> Lang:
    """``?lang=`` first, then the user's saved choice, the cookie, Accept-Language, else en."""
    for choice in (query, user, cookie):
        if choice in LANGUAGES:
            return choice
    if accept_language:
        wanted = _parse_accept(accept_language)
        found = Locale.negotiate(wanted, ["vi", "zh", "en"], sep="-")
        if found is not None and found.language in LANGUAGES:
            return found.language
    return DEFAULT


def _parse_accept(header: str) -> list[str]:
    """Accept-Language's tags, best first (``zh-CN,zh;q=0.9,en;q=0.5``)."""
    weighted = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*":
            weighted.append((-q, i, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


@dataclass(frozen=True)
class Formats:
    """Babel's formatters bound to one language, for templates (``fmt.number(3.5)``)."""

    lang: Lang
    timezone: str = "UTC"

    @cached_property
    def locale(self) -> Locale:
        return Locale.parse({"zh": "zh_Hans_CN", "vi": "vi_VN", "en": "en_GB"}[self.lang])

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                              locale=self.locale)

    def percent(self, value: float | None) -> str:
        return "–" if value is None else format_percent(value, locale=self.locale)

    def datetime(self, value: dt.datetime | None, style: str = "short") -> str:
        if value is None:
            return "–"
        return format_datetime(value, style, tzinfo=ZoneInfo(self.timezone), locale=self.locale)

    def ago(self, value: dt.datetime | None, now: dt.datetime) -> str:
        if value is None:
            return "–"
        return format_timedelta(value - now, add_direction=True, locale=self.locale)

    def bytes(self, value: int | None) -> str:
        if value is None:
            return "–"
        for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if value >= size:
                return f"{self.number(value / size)} {unit}"
        return f"{self.number(value, 0)} B"

    def unit(self, value: float | None, unit: str) -> str:
        """A reading with its unit: 23,5 °C in Vietnamese, 23.5 °C in English."""
        digits = 0 if unit in ("%",) else 1
        return f"{self.number(value, digits)} {unit}".strip()


def template_globals(lang: Lang, timezone: str = "UTC") -> dict[str, Any]:
    """What every template gets for the request's language."""
    return {"lang": lang, "fmt": Formats(lang, timezone), "languages": LANGUAGES,
            "native_names": NATIVE_NAMES}
