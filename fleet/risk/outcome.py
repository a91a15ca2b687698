"""What a risk model says about one day: the risk, the rule that fired and its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Risk = Literal["high", "moderate", "low", "unknown"]
#: Risks in rising order (unknown is below low: it never clears and never raises an alert).
LEVELS: tuple[Risk, ...] = ("unknown", "low", "moderate", "high")


def at_least(risk: str, level: str) -> bool:
    """Whether ``risk`` is ``level`` or higher (unknown is never at least anything known)."""
    return risk != "unknown" and LEVELS.index(risk) >= LEVELS.index(level)


@dataclass(frozen=True)
class DayRisk:
    """One day's answer of one model."""

    date: date
    model: str
    risk: Risk
    reason: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "model": self.model, "risk": self.risk,
                "reason": self.reason}
