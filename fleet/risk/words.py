"""What a risk day says to a farm manager: the level, the rule that fired and its figures in
words, and what to do, as gettext msgids (extracted into the dashboard's ``messages`` catalog,
see fleet/web/dashboard/babel.cfg; translated where they are shown).

Figures go in already formatted with their unit (``12,0 °C`` in Vietnamese), so no msgid holds
a bare ``%``.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


LEVELS: dict[str, str] = {
    "high": N_("high"),
    "moderate": N_("moderate"),
    "low": N_("low"),
    "unknown": N_("unknown"),
}
MODELS: dict[str, str] = {
    "hutton": N_("Hutton Criteria"),
    "smith": N_("Smith Periods"),
    "blitecast": N_("BLITECAST"),
    "tomcast": N_("TOMCAST"),
    "rice_blast": N_("Rice blast rule"),
}
#: Why, by the rule a model's reason names (fleet/risk/*.py).
RULES: dict[str, str] = {
    "hutton_period": N_("This day and the day before were both warm and humid enough for late "
                        "blight to infect: a Hutton period."),
    "one_day_met": N_("This day was warm and humid enough for late blight; a second such day "
                      "completes a Hutton period."),
    "criteria_not_met": N_("Too cold or too dry for the disease on this day."),
    "missing_hours": N_("Hours of data are missing, and they could change the answer."),
    "day_before_unknown": N_("The day before has no complete data, so the model cannot "
                             "decide."),
    "full_smith_period": N_("Two days in a row warm and humid enough for late blight: a full "
                            "Smith period."),
    "half_smith_period": N_("This day was warm and humid enough for late blight: a half Smith "
                            "period."),
    "near_miss": N_("Almost a Smith period: the humid hours fell just short on one of the two "
                    "days."),
    "no_spray": N_("The severity of the last days stays below BLITECAST's warning."),
    "warning": N_("The severity of the last days reached BLITECAST's warning."),
    "spray_7_day": N_("BLITECAST advises a spray every 7 days."),
    "spray_5_day": N_("BLITECAST advises a spray every 5 days."),
    "spray_interval_reached": N_("The severity summed since the last spray reached the spray "
                                 "interval."),
    "approaching_spray_interval": N_("The severity summed since the last spray is close to the "
                                     "spray interval."),
    "below_spray_interval": N_("The severity summed since the last spray is well below the "
                               "spray interval."),
    "favourable_week": N_("A week or more of warm, wet nights in a row: blast weather."),
    "favourable_days": N_("Several warm, wet nights in a row: blast weather is building."),
    "not_favourable": N_("The nights were not warm and wet enough for blast."),
}
UNKNOWN_RULE = N_("Rule %(rule)s")
TODAY_NOT_OVER = N_("Today is not over yet: the answer comes when its hours are measured.")
#: The figures behind it, by model (placeholders: the reason's keys, formatted).
FIGURES: dict[str, str] = {
    "hutton": N_("Minimum %(min_temperature)s, %(humid_hours)s hours at %(humid_rh)s humidity "
                 "or more."),
    "smith": N_("Minimum %(min_temperature)s, %(humid_hours)s hours at %(humid_rh)s humidity "
                "or more."),
    "blitecast": N_("Severity value %(severity)s; %(severity_sum)s over the last "
                    "%(window_days)s days."),
    "tomcast": N_("Severity value %(severity)s; %(severity_sum)s since %(since)s, spray at "
                  "%(spray_interval)s."),
    "rice_blast": N_("Minimum %(min_temperature)s, %(wet_hours)s wet hours; "
                     "%(favourable_days_in_a_row)s favourable days in a row."),
}
MISSING = N_("%(hours)s hours without data.")
#: What to do, by level (high: by disease, below).
TO_DO: dict[str, str] = {
    "moderate": N_("Check tomorrow's risk, and get the sprayer and the product ready."),
    "low": N_("Nothing is needed for this disease now."),
    "unknown": N_("Check that the field's nodes are on and reporting; until then treat the day "
                  "as possibly risky."),
}
TO_DO_HIGH: dict[str, str] = {
    "late_blight": N_("Protect the crop now with the product and interval your plant "
                      "protection adviser recommends for late blight, and walk the field in the "
                      "next days: look for dark, water-soaked spots with white mould under the "
                      "leaves."),
    "early_blight": N_("Protect the crop now with the product your plant protection adviser "
                       "recommends for early blight; look for brown spots with rings on the "
                       "older leaves."),
    "blast": N_("Check the leaves for grey, diamond-shaped spots, do not add nitrogen "
                "fertiliser during humid spells, and ask the local plant protection station "
                "whether a fungicide spray is needed."),
}
