"""What an alert says to a person, in their language (vi, zh, en), with what to do.

The texts are gettext msgids in the dashboard's ``messages`` catalog (extracted from this module,
see fleet/web/dashboard/babel.cfg); disease names and advice come from the ``diseases`` catalog of
:mod:`fleet.modelops.advice`. A webhook gets the same text plus the alert as data.
"""

from __future__ import annotations

from typing import Any

from agrifleet.fleet.alerts.rules import AlertPublic
from agrifleet.fleet.alerts.tables import Alert
from agrifleet.fleet.catalogs import LANGUAGES, translations
from agrifleet.fleet.modelops.advice import UnknownLabel, advice_for
from agrifleet.fleet.risk import explain
from agrifleet.fleet.texts import ALERT_KINDS


def N_(message: str) -> str:
    """Mark a message for extraction; translated when a message is written."""
    return message


STATES = {"active": N_("New alert"), "cleared": N_("Alert cleared")}
SUBJECT = N_("agrifleet: %(title)s, %(place)s")
RISK = N_("%(disease)s risk is %(risk)s in field %(field)s on %(date)s (model %(model)s).")
RISK_LEVELS = {"high": N_("high"), "moderate": N_("moderate")}
SPREAD = N_("%(disease)s on %(crop)s was found on %(count)s nodes or scouting photos of field "
            "%(field)s.")
DETECTED = N_("%(disease)s on %(crop)s was detected by node %(device)s.")
OTHER = N_("Node %(device)s: %(what)s")
WHY = N_("Why: %(reason)s")
WHAT_TO_DO = N_("What to do: %(advice)s")
RICE_BLAST = N_("Rice blast")
#: A risk model's disease as the ``diseases`` catalog names it (blast: ours), and whose advice.
RISK_DISEASES: dict[str, tuple[str, str | None]] = {
    "late_blight": ("Late blight", "Potato___Late_blight"),
    "early_blight": ("Early blight", "Tomato___Early_blight"),
    "blast": (RICE_BLAST, None),
}


def language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else "en"


def compose(alert: Alert | AlertPublic, state: str, lang: str | None) -> tuple[str, str]:
    """(subject, text) of an alert state change, in ``lang`` (en when unknown)."""
    t = translations(language(lang)).gettext
    p: dict[str, Any] = dict(alert.params or {})
    title = t(ALERT_KINDS.get(alert.code, alert.code))
    place = str(p.get("field") or alert.device_id or alert.field_id or "")
    lines = [t(STATES.get(state, STATES["active"])) + ": " + title]
    advice: str | None = None
    if alert.code == "disease_risk":
        name, _label = RISK_DISEASES.get(str(p.get("disease")), (str(p.get("disease")), None))
        lines.append(t(RISK) % {
            "disease": t(name), "risk": t(RISK_LEVELS.get(str(p.get("risk")), "high")),
            "field": p.get("field", ""), "date": p.get("date", ""), "model": p.get("model", "")})
        day = explain.day_of(p)
        if day is not None:
            lines.append(t(WHY) % {"reason": " ".join(
                part for part in (explain.why(day, t), explain.figures(day, t, explain.PLAIN))
                if part)})
            advice = explain.to_do(day.risk, str(p.get("disease")), t)
    elif alert.code in ("disease_spreading", "disease_detected"):
        values = {"disease": t(str(p.get("disease", ""))), "crop": t(str(p.get("crop", ""))),
                  "count": p.get("sources", ""), "field": p.get("field", ""),
                  "device": alert.device_id}
        lines.append(t(SPREAD if alert.code == "disease_spreading" else DETECTED) % values)
        try:
            advice = t(advice_for(str(p.get("label", ""))).what_to_do_msgid)
        except UnknownLabel:
            advice = None
    else:
        lines.append(t(OTHER) % {"device": alert.device_id, "what": title})
    if advice and state != "cleared":
        lines.append(t(WHAT_TO_DO) % {"advice": advice})
    return t(SUBJECT) % {"title": title, "place": place}, "\n\n".join(lines) + "\n"


def webhook_body(alert: Alert, state: str, lang: str, delivery_id: int) -> dict[str, Any]:
    """The JSON a webhook receives: the alert as the API shows it, and the message."""
    subject, text = compose(alert, state, lang)
    return {"delivery_id": delivery_id, "state": state, "language": language(lang),
            "subject": subject, "text": text,
            "alert": AlertPublic.model_validate(alert).model_dump(mode="json")}
