"""Templates in the request's language: one Jinja environment per language, built once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from agrifleet.fleet import catalogs, texts
from agrifleet.fleet.web.dashboard import alert_rows, i18n, quantities
from agrifleet.fleet.web.dashboard.session import FARM_COOKIE, Principal, current
from agrifleet.inference.parts import HEALTHY, crop_name, disease_name

TEMPLATES = Path(__file__).resolve().parent / "templates"
_lock = threading.Lock()
_envs: dict[str, Environment] = {}


def environment(lang: i18n.Lang, timezone: str = "UTC") -> Environment:
    with _lock:
        env = _envs.get(f"{lang} {timezone}")
        if env is None:
            env = Environment(loader=FileSystemLoader(TEMPLATES),
                              autoescape=select_autoescape(["html"]),
                              extensions=["jinja2.ext.i18n"], trim_blocks=True,
                              lstrip_blocks=True)
            env.install_gettext_translations(catalogs.translations(lang), newstyle=True)  # type: ignore[attr-defined]
            env.globals.update(i18n.template_globals(lang, timezone))
            gettext = catalogs.translations(lang).gettext
            env.globals["code_text"] = lambda table, code: _coded(gettext, table, code)
            words: dict[str, str] = {}  # a page names the same labels many times

            def label_text(label: str) -> str:
                return words.get(label) or words.setdefault(label, _label(gettext, label))

            env.globals["label_text"] = label_text
            env.globals["answer_text"] = lambda d: _answer(gettext, d)
            env.globals["quantity_text"] = lambda code: quantities.quantity_name(gettext, code)
            env.globals["unit_text"] = lambda unit: quantities.unit_symbol(gettext, unit)
            env.globals["crop_text"] = lambda crop: quantities.crop_name(gettext, crop)
            fmt = i18n.Formats(lang, timezone)
            env.globals["reading_text"] = lambda quantity, value, unit: _reading(
                gettext, fmt, quantity, value, unit)
            env.globals["alert_text"] = lambda alert: alert_rows.describe(
                alert, gettext, fmt, label_text)
            env.globals["texts"] = texts
            _envs[f"{lang} {timezone}"] = env
        return env


def _coded(gettext: Any, table: dict[str, str], code: str) -> str:
    """A code's translated words; an unknown code is shown as itself."""
    msgid = table.get(code)
    return str(gettext(msgid)) if msgid else code


def _reading(gettext: Any, fmt: i18n.Formats, quantity: str, value: float | None,
             unit: str) -> str:
    """A reading as people write it: "23,5 °C", "850 µS/cm", "9" satellites."""
    number = fmt.number(value, quantities.digits(quantity, unit))
    symbol = quantities.unit_symbol(gettext, unit)
    return f"{number} {symbol}" if symbol else number


def _label(gettext: Any, label: str) -> str:
    """A class label in words: "Tomato · Late blight", translated through the diseases domain."""
    if label == "uncertain":
        return str(gettext("Uncertain"))
    try:
        from agrifleet.fleet.modelops.advice import (  # the disease catalog (issue 11 B)
            UnknownLabel,
            advice_for,
        )
    except ImportError:
        pass
    else:
        try:
            advice = advice_for(label)
        except UnknownLabel:
            pass
        else:
            return f"{gettext(advice.crop_msgid)} · {gettext(advice.disease_msgid)}"
    disease = disease_name(label)
    crop = str(gettext(crop_name(label)))
    words = str(gettext("Healthy")) if disease == HEALTHY else str(gettext(disease))
    return f"{crop} · {words}"


def _answer(gettext: Any, d: Any) -> str:
    """What a detection says in words: its class, or, when the class is uncertain but the
    disease is clear (the same disease on two crops), "Late blight · crop uncertain"."""
    disease = getattr(d, "disease", None)
    if d.uncertain and disease and getattr(d, "disease_uncertain", None) is False:
        for candidate in d.top3 or []:
            label = str(candidate.get("label", ""))
            if disease_name(label) == disease:
                words = _label(gettext, label).split(" · ")[-1]
                return f"{words} · {gettext('crop uncertain')}"
    return _label(gettext, d.label)


def language(request: Request, who: Principal | None) -> i18n.Lang:
    return i18n.pick(request.query_params.get("lang"), request.cookies.get(i18n.LANG_COOKIE),
                     request.headers.get("accept-language"),
                     who.language if who is not None else None)


def page(request: Request, template: str, who: Principal | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """The page in the request's language; a ?lang= choice is remembered in a cookie."""
    lang = language(request, who)
    env = environment(lang, request.app.state.settings.dashboard_timezone)
    gettext = catalogs.translations(lang).gettext
    script_texts = {key: str(gettext(msg)) for key, msg in texts.SCRIPT_TEXTS.items()}
    script_texts.update({f"error_{k}": str(gettext(v)) for k, v in texts.API_ERRORS.items()})
    html = env.get_template(template).render(
        request=request, who=who, now=datetime.now(UTC), path=request.url.path,
        # JSON with "<" escaped cannot end the <script> element it sits in.
        script_texts=Markup(  # noqa: S704
            json.dumps(script_texts, ensure_ascii=False).replace("<", "\\u003c")),
        **context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    farm = request.query_params.get("farm")
    if who is not None and farm == str(who.farm_id):
        response.set_cookie(FARM_COOKIE, farm, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    return response


def signed_in(request: Request) -> Principal | None:
    return current(request)
