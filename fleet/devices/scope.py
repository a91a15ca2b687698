"""Farm scoping of what devices report: a query of a device's items narrowed to a caller's farms."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import col, select

from agrifleet.fleet.devices.tables import Device


def in_farms(device_id: Any, farm_ids: set[int] | None) -> list[ColumnElement[bool]]:
    """The condition that an item's device is in one of the farms (none: every farm)."""
    if farm_ids is None:
        return []
    return [col(device_id).in_(select(Device.id).where(col(Device.farm_id).in_(farm_ids)))]
