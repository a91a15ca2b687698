"""At 360 px, a phone's width, no page in any language is wider than the screen
(``document.documentElement.scrollWidth``, with every ``<details>`` opened), the header leaves
the screen to the content (at most 120 px high), and no table heading is broken inside a
word (a character per line). The farm has a reading of every kind, open alerts and a running rollout
(:mod:`.showcase`)."""

from __future__ import annotations

import json
from typing import Any

from tests.fleet.web.dashboard.conftest import Site
from tests.fleet.web.dashboard.farm import TECHNICIAN
from tests.fleet.web.dashboard.showcase import fill

WIDTH, HEIGHT = 360, 740
HEADER_MAX = 120
PAGES = {
    "overview": "/",
    "field": "/fields/{north}",
    "field (rice)": "/fields/{river}",
    "node": "/nodes/north-1",
    "detections": "/detections",
    "scouting": "/scouting",
    "alerts": "/alerts",
    "models": "/models",
}
MEASURE = """() => {
  for (const d of document.querySelectorAll("details")) d.open = true;
  const doc = document.documentElement;
  const header = document.querySelector("header.top").getBoundingClientRect().height;
  const lines = (el) => {  // the line boxes of an element's text
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
  };
  const squeezed = [...document.querySelectorAll("th")].filter(th => {
    const words = th.textContent.trim().split(/\\s+/).length;
    return lines(th) > Math.max(2, words);
  }).map(th => th.textContent.trim() + " " + lines(th));
  const wide = [...document.querySelectorAll("main *")]
    .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 0.5)
    .slice(0, 5).map(e => e.tagName + "." + e.className + " " + e.textContent.slice(0, 40));
  return {width: doc.scrollWidth, header: header, squeezed: squeezed, wide: wide};
}"""


def test_no_page_is_wider_than_a_phone_in_any_language(site: Site, browser: Any) -> None:
    fill(site.url, site.app, site.technician_token)
    fields = site.seeded.fields
    ctx = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    problems: dict[str, Any] = {}
    measured = 0
    try:
        page = ctx.new_page()
        for lang in ("vi", "zh", "en"):
            page.goto(site.url + f"/login?lang={lang}")
            found = page.evaluate(MEASURE)
            if found["width"] > WIDTH or found["header"] > HEADER_MAX:
                problems[f"login ({lang})"] = found
        site.login(page, TECHNICIAN)
        for lang in ("vi", "zh", "en"):
            page.goto(site.url + f"/?lang={lang}")
            for name, path in PAGES.items():
                page.goto(site.url + path.format(north=fields["North"], river=fields["River"]))
                page.wait_for_load_state("networkidle")
                assert page.get_attribute("html", "lang") == lang
                found = page.evaluate(MEASURE)
                measured += 1
                if found["width"] > WIDTH or found["header"] > HEADER_MAX or found["squeezed"]:
                    problems[f"{name} ({lang})"] = found
    finally:
        ctx.close()
    assert measured == len(PAGES) * 3
    assert not problems, json.dumps(problems, indent=1, ensure_ascii=False)
