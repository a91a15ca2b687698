"""Day criteria shared by the blight models, decided even with missing hours where they can be.

A day with missing hours is still decided when the hours it has settle the question: a known
hour below the minimum temperature fails the day whatever the missing hours held, and so does
a count of humid hours that cannot reach the threshold even if every missing hour was humid.
Otherwise it is undecided (``None``), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agrifleet.fleet.risk.series import Day


@dataclass(frozen=True)
class HumidWarmDay:
    """A day's minimum temperature and hours at or above a humidity, as far as known."""

    min_temperature: float | None  # of the known hours
    humid_hours: int  # known hours with RH >= the threshold
    missing: int

    @classmethod
    def of(cls, day: Day, humid_rh: float) -> HumidWarmDay:
        known = day.known
        temps = [h.air_temperature for h in known if h.air_temperature is not None]
        humid = sum(1 for h in known if (h.relative_humidity or 0.0) >= humid_rh)
        return cls(min(temps) if temps else None, humid, day.missing)

    def meets(self, min_temperature: float, humid_hours: int) -> bool | None:
        """Whether minimum >= ``min_temperature`` and >= ``humid_hours`` humid hours."""
        if self.min_temperature is not None and self.min_temperature < min_temperature:
            return False
        if self.humid_hours + self.missing < humid_hours:
            return False
        if self.missing:
            return None
        return self.humid_hours >= humid_hours

    def inputs(self) -> dict[str, Any]:
        return {"min_temperature": self.min_temperature, "humid_hours": self.humid_hours,
                "missing_hours": self.missing}
