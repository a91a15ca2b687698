"""Regenerate the dashboard screenshots in docs/img: the overview, a node, scouting (with an
answer) and the rollout page, on a phone (360×740) in Vietnamese and Chinese, and the node page
in Chinese on a desktop (1280×800) that the README shows.

    .venv/bin/python docs/img/make_screenshots.py [--photo LEAF.jpg] [--out docs/img]

It serves the test farm with everything a page can show (tests/fleet/web/dashboard/showcase.py: a
private Mosquitto, the fleet under uvicorn, open alerts, a running rollout) and drives Debian's
chromium with Playwright, as the browser tests do. Chinese needs a CJK font on the machine
(``apt-get install fonts-noto-cjk``), or the pictures show boxes. The scouting photo is the first
late blight leaf of ../shared/data when there is one, else a plain green square.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.fleet.web.dashboard.conftest import find_chromium  # noqa: E402
from tests.fleet.web.dashboard.farm import TECHNICIAN  # noqa: E402
from tests.fleet.web.dashboard.showcase import running_site  # noqa: E402

PAGES = {"overview": "/", "node": "/nodes/north-1", "scouting": "/scouting",
         "rollout": "/models"}
LANGUAGES = ("vi", "zh")
PHONE_WIDTH, PHONE_HEIGHT = 360, 740
SHARED_LEAVES = ROOT.parent / "shared" / "data" / "plantvillage" / "Tomato___Late_blight"


def default_photo(folder: Path) -> Path:
    found = sorted(SHARED_LEAVES.glob("*.jpg")) if SHARED_LEAVES.is_dir() else []
    if found:
        return found[0]
    path = folder / "leaf.jpg"
    Image.new("RGB", (256, 256), (60, 140, 50)).save(path, "JPEG")
    return path


def shoot(url: str, out: Path, photo: Path, chromium: str) -> list[Path]:
    made = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for lang in LANGUAGES:
                ctx = browser.new_context(viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT})
                page = ctx.new_page()
                page.goto(f"{url}/login?lang={lang}")
                page.fill("#email", TECHNICIAN[0])
                page.fill("#password", TECHNICIAN[1])
                page.click("form[action='/login'] button[type=submit]")
                page.wait_for_url(url + "/")
                for name, path in PAGES.items():
                    page.goto(url + path)
                    page.wait_for_load_state("networkidle")
                    if name == "scouting":
                        page.set_input_files("#photo", str(photo))
                        page.click("#scout button[type=submit]")
                        page.locator("#answer:not([hidden]) .answer-advice p").first.wait_for(
                            timeout=60_000)
                    if name == "rollout":
                        for details in page.locator("article.rollout details").all():
                            details.evaluate("d => d.open = true")
                    page.evaluate("() => document.querySelectorAll('img[loading=lazy]')"
                                  ".forEach(i => { i.loading = 'eager'; })")
                    page.wait_for_load_state("networkidle")
                    target = out / f"{name}-{lang}-phone.png"
                    page.screenshot(path=str(target), full_page=True)
                    made.append(target)
                if lang == "zh":
                    page.set_viewport_size({"width": 1280, "height": 800})
                    page.goto(url + PAGES["node"])
                    page.wait_for_load_state("networkidle")
                    target = out / "node-zh-desktop.png"
                    page.screenshot(path=str(target), full_page=False)
                    made.append(target)
                ctx.close()
        finally:
            browser.close()
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--photo", type=Path, help="the leaf photo to scout")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("Debian's chromium is not installed: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="agrifleet-shots-") as tmp:
        folder = Path(tmp)
        photo = args.photo or default_photo(folder)
        with running_site(folder) as (url, _app, _seeded):
            made = shoot(url, args.out, photo, chromium)
    for path in made:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
