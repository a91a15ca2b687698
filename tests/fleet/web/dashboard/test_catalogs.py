"""The Vietnamese and Chinese catalogs translate every string the pages show, and nothing else.

A template or code string missing from a catalog, an empty or fuzzy translation, an obsolete
entry or one no template uses any more fails here; docs/dashboard.md says how to update them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from agrifleet.fleet import catalogs

ROOT = Path(__file__).resolve().parents[4]
CFG = ROOT / "fleet" / "web" / "dashboard" / "babel.cfg"


def extracted() -> set[str]:
    with CFG.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


@pytest.fixture(scope="module")
def msgids() -> set[str]:
    found = extracted()
    assert len(found) > 100, "extraction found too few messages: is babel.cfg right?"
    return found


@pytest.mark.parametrize("lang", ["vi", "zh"])
def test_every_page_string_is_translated_and_none_is_stale(lang: str, msgids: set[str]) -> None:
    path = catalogs.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert not catalog.obsolete, f"obsolete entries in {path}: {sorted(catalog.obsolete)}"
    missing = sorted(msgids - set(entries))
    stale = sorted(set(entries) - msgids)
    empty = sorted(k for k, m in entries.items() if not m.string or m.string == ("",))
    fuzzy = sorted(k for k, m in entries.items() if m.fuzzy)
    assert not missing, f"not in {path}: {missing}"
    assert not stale, f"in {path} but in no template or code any more: {stale}"
    assert not empty, f"untranslated in {path}: {empty}"
    assert not fuzzy, f"fuzzy (unchecked) in {path}: {fuzzy}"


@pytest.mark.parametrize("lang", ["vi", "zh"])
def test_placeholders_survive_translation(lang: str) -> None:
    import re

    path = catalogs.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh)
    for m in catalog:
        if m.id and isinstance(m.string, str):
            wanted = sorted(re.findall(r"%\(\w+\)s", str(m.id)))
            assert sorted(re.findall(r"%\(\w+\)s", m.string)) == wanted, m.id


def test_a_catalog_is_used_as_written() -> None:
    vi = catalogs.translations("vi")
    assert vi.gettext("Overview") == "Tổng quan"
    assert catalogs.translations("zh").gettext("Sign in") == "登录"
    assert catalogs.translations("en").gettext("Overview") == "Overview"
