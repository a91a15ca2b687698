"""Words the pages take from codes: node event codes, alert kinds, API refusals, spans.

Each is marked with ``N_`` so Babel extracts it into the catalogs; the pages translate the code,
never the English message a node sent.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


EVENT_CODES: dict[str, str] = {
    "sensor_down": N_("A sensor stopped answering"),
    "sensor_recovered": N_("A sensor answers again"),
    "image_unreadable": N_("A camera image could not be read"),
    "model_unusable": N_("The disease model cannot be used"),
    "outbox_reset": N_("The node's outbox was reset"),
    "outbox_full": N_("The node's outbox is full; oldest data dropped"),
    "outbox_unwritable": N_("The node cannot write its outbox"),
    "outbox_writable": N_("The node can write its outbox again"),
    "duplicate_conflict": N_("The node sent two different items with one number"),
}
UNKNOWN_EVENT = N_("Event %(code)s")

ALERT_KINDS: dict[str, str] = {  # by the alert's machine code (fleet/alerts/tables.py)
    "disease_detected": N_("Disease detected"),
    "reading_out_of_range": N_("Reading out of range"),
    "node_offline": N_("Node offline"),
    "outbox_backlog": N_("Outbox backlog"),
    "disease_risk": N_("Disease risk"),
    "disease_spreading": N_("Disease spreading"),
}
ALERT_STATES: dict[str, str] = {
    "active": N_("active"),
    "acknowledged": N_("acknowledged"),
    "cleared": N_("cleared"),
}
ROLLOUT_STATES: dict[str, str] = {
    "running": N_("running"),
    "paused": N_("paused"),
    "halted": N_("halted"),
    "completed": N_("completed"),
    "aborted": N_("aborted"),
}
SPANS: dict[str, str] = {
    "hour": N_("Hour"),
    "day": N_("Day"),
    "week": N_("Week"),
    "season": N_("Season"),
}
#: What the browser shows when the API refuses, by HTTP status (the API's text is English).
API_ERRORS: dict[str, str] = {
    "401": N_("Your session has ended. Please sign in again."),
    "403": N_("Your role in this farm may not do this."),
    "404": N_("Not found, or not in your farm."),
    "409": N_("This cannot be done in the current state."),
    "413": N_("The photo is too large."),
    "415": N_("This file is not a photo the fleet can read."),
    "422": N_("Something in the request is not valid."),
    "429": N_("Too many attempts. Please wait a moment."),
    "0": N_("No connection to the fleet. Saved; it will be sent when you are online."),
    "other": N_("The fleet could not do this. Please try again."),
}
#: Words the browser code needs, translated into the page.
SCRIPT_TEXTS: dict[str, str] = {
    "queued": N_("Saved on this phone; it will be sent when you are online."),
    "sent": N_("Sent."),
    "sending": N_("Sending…"),
    "pending": N_("Photos waiting to be sent: %(count)s"),
    "done": N_("Done."),
    "confidence": N_("Confidence"),
    "uncertain": N_("The model is not sure. Take another photo closer to the leaf."),
    "crop_uncertain": N_("crop uncertain"),
    "busy_devices": N_("These nodes are already in an unfinished rollout: %(devices)s"),
}
#: A device's state in a rollout (fleet/modelops/rollouts/tables.py: DeviceState).
ROLLOUT_DEVICE_STATES: dict[str, str] = {
    "pending": N_("waiting for its phase"),
    "offered": N_("offered"),
    "downloading": N_("downloading"),
    "verifying": N_("verifying"),
    "selftest": N_("self-test"),
    "shadow": N_("testing beside the current model"),
    "active": N_("runs the new model"),
    "failed": N_("failed"),
    "rolled_back": N_("rolled back"),
}
#: A device's quality-gate figures (agrifleet/contract.py: GateFigures).
GATE_FIGURES: dict[str, str] = {
    "images": N_("photos"),
    "agreement": N_("agreement"),
    "mean_confidence": N_("mean confidence"),
    "uncertain_rate": N_("uncertain"),
    "latency_ms": N_("time per photo (ms)"),
    "answered": N_("photos either model answered"),
    "both_answered": N_("answered by both models"),
}
