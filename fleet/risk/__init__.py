"""Disease risk from a field's own weather: hourly series per field and the published models.

:mod:`fleet.risk.series` turns readings into hourly series (hours without data are marked,
never filled); each model module (:mod:`~fleet.risk.hutton`, :mod:`~fleet.risk.smith`,
:mod:`~fleet.risk.blitecast`, :mod:`~fleet.risk.tomcast`, :mod:`~fleet.risk.rice_blast`) is a pure
function from days of hours to one :class:`~fleet.risk.outcome.DayRisk` per day;
:mod:`fleet.risk.registry` names them, picks them by crop and loads their parameters.
"""
