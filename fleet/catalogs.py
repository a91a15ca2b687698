"""The fleet's message catalogs: the words people read, in vi, zh and en.

The ``.po`` files live with the dashboard (``fleet/web/dashboard/locale/<lang>/LC_MESSAGES/``,
domains ``messages`` and ``diseases``); the dashboard and the alert e-mails both read them here,
so a farm manager reads the same words on a page and in a message.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "web" / "dashboard" / "locale"
Lang = Literal["en", "vi", "zh"]
LANGUAGES: tuple[Lang, ...] = ("vi", "zh", "en")
DEFAULT: Lang = "en"
DOMAINS = ("messages", "diseases")

_lock = threading.Lock()
_cache: dict[str, NullTranslations] = {}


def load_po(path: Path) -> Translations:
    """A .po file compiled in memory (fuzzy entries are left out, as msgfmt does)."""
    with path.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=path.stem)


def translations(lang: str) -> NullTranslations:
    """Every domain's catalog for ``lang`` (English: the msgids themselves), cached."""
    with _lock:
        found = _cache.get(lang)
        if found is None:
            found = NullTranslations()
            if lang != "en":
                merged: Translations | None = None
                for domain in DOMAINS:
                    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.po"
                    if not path.is_file():
                        continue
                    loaded = load_po(path)
                    if merged is None:
                        merged = loaded
                    else:
                        merged.add(loaded, merge=True)
                        merged.merge(loaded)
                if merged is not None:
                    found = merged
            _cache[lang] = found
        return found
