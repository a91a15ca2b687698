"""The alert rules a demo farm starts with, so its alerts page has something to watch.

Ordinary rules of the demo farm, made through the API (``POST /api/v1/alert-rules``): a
technician changes or deletes them on the alerts page or with ``PATCH``/``DELETE`` like any
other (docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: A likely crop disease, a node gone silent, and soil too dry or waterlogged for a paddy.
RULES: tuple[dict[str, Any], ...] = (
    {"kind": "disease", "name": "Crop disease (80 % sure or more)", "min_confidence": 0.8},
    {"kind": "offline", "name": "Node offline"},
    {"kind": "reading_range", "name": "Soil moisture out of range", "quantity": "soil_moisture",
     "min_value": 20.0, "max_value": 45.0, "for_s": 900},
)


def create_alert_rules(api: Callable[..., Any], farm_id: int | None = None) -> list[int]:
    """Create :data:`RULES` in the demo farm with ``api(method, path, body)``; their ids."""
    if farm_id is None:
        from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID

        farm_id = int(DEFAULT_FARM_ID)
    return [int(api("POST", "/alert-rules", {**rule, "farm_id": farm_id})["id"])
            for rule in RULES]
