"""Which language a request gets (?lang=, the user's choice, the cookie, Accept-Language, en)
and how numbers and dates read in it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agrifleet.fleet.web.dashboard import i18n


@pytest.mark.parametrize(("query", "user", "cookie", "accept", "expected"), [
    ("vi", None, "zh", "en", "vi"),
    (None, "zh", "vi", "en", "zh"),
    (None, None, "zh", "vi", "zh"),
    (None, None, None, "zh-CN,zh;q=0.9,en;q=0.5", "zh"),
    (None, None, None, "fr-FR,vi;q=0.8,en;q=0.5", "vi"),
    (None, None, None, "en-US,en;q=0.9", "en"),
    (None, None, None, "fr-FR", "en"),
    (None, None, None, None, "en"),
    ("xx", None, "bad", "garbage;;q=zz,,", "en"),
])
def test_language_is_picked_in_order(query: str | None, user: str | None, cookie: str | None,
                                     accept: str | None, expected: str) -> None:
    assert i18n.pick(query, cookie, accept, user) == expected


def test_numbers_and_dates_follow_the_language() -> None:
    when = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert i18n.Formats("vi").unit(1234.5, "mm") == "1.234,5 mm"
    assert i18n.Formats("en").unit(1234.5, "mm") == "1,234.5 mm"
    assert i18n.Formats("zh").number(1234.5) == "1,234.5"
    assert "2026" in i18n.Formats("zh").datetime(when, "medium")
    assert i18n.Formats("vi").datetime(when, "short") != i18n.Formats("en").datetime(when, "short")
    assert i18n.Formats("vi").bytes(2_500_000) == "2,5 MB"
