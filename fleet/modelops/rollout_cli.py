"""``agrifleet rollout …``: start and steer model rollouts on a running fleet over HTTP.

Only the standard library is used (through :mod:`agrifleet.fleet_client`), so a technician's
laptop needs no fleet extra. The fleet and token come from ``--fleet``/``--token`` or
AGRIFLEET_FLEET_URL/AGRIFLEET_TOKEN.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from agrifleet.fleet_client import EPILOG, FleetError, add_connection, handled, request

# --- rollout ---------------------------------------------------------------------------------


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Register ``start``, ``list``, ``status``, ``pause``, ``resume``, ``abort``, ``approve``."""
    parser.epilog = EPILOG
    sub = parser.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)

    s = sub.add_parser("start", help="start a phased rollout; prints its id", epilog=EPILOG,
                       description="Offer a published model to devices phase by phase; a "
                       "phase starts only when the one before is done, within the error limit "
                       "and the shadow gate.")
    s.add_argument("--model", required=True, help="model name, e.g. leaf-disease")
    s.add_argument("--version", required=True, help="a version published to the fleet")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--devices", help="comma-separated device ids")
    who.add_argument("--tag", help="every device with this tag")
    who.add_argument("--all", action="store_true", help="every registered device")
    s.add_argument("--phases", default="100", help="cumulative percentages, e.g. 5,25,100")
    s.add_argument("--min-devices", type=int, default=1, help="at least this many per phase")
    s.add_argument("--max-failures", default="0", metavar="N|P%",
                   help="halt above N failed devices, or above P%% of those offered (0)")
    s.add_argument("--rollback-on-halt", action="store_true",
                   help="on halt, offer updated and failed devices their previous model")
    s.add_argument("--approval", action="store_true", help="wait for approve between phases")
    s.add_argument("--shadow-images", type=int, default=20, help="photos in shadow (20)")
    s.add_argument("--shadow-max-s", type=float, default=3600, help="longest shadow period")
    s.add_argument("--min-agreement", type=float, help="gate: least agreement with the "
                   "current model (0-1)")
    s.add_argument("--min-mean-confidence", type=float, help="gate: least mean confidence")
    s.add_argument("--max-uncertain-rate", type=float, help="gate: most uncertain answers")
    s.add_argument("--max-latency-ms", type=float, help="gate: slowest median inference")
    s.add_argument("--timeout-s", type=float, help="every state's timeout (default: the "
                   "fleet's settings)")
    add_connection(s)
    s.set_defaults(func=handled(_start))

    ls = sub.add_parser("list", help="rollouts, newest first", epilog=EPILOG,
                        description="List rollouts, newest first, with their state.")
    ls.add_argument("--json", action="store_true", help="print the API's JSON")
    add_connection(ls)
    ls.set_defaults(func=handled(_list))

    st = sub.add_parser("status", help="one rollout: phases, devices, gate figures, reason",
                        epilog=EPILOG, description="Show one rollout: its state and reason, "
                        "its phases, every device's state and gate figures.")
    st.add_argument("id", type=int, help="the rollout id that start printed")
    st.add_argument("--json", action="store_true", help="print the API's JSON")
    st.add_argument("--wait", action="store_true",
                    help="follow it until it stops running (completed, paused, halted or "
                    "aborted), printing each change; exit 0 only when completed")
    add_connection(st)
    st.set_defaults(func=handled(_status))

    for action, text in (("pause", "hold the next phase"),
                         ("resume", "go on after a pause or halt, accepting what held it"),
                         ("abort", "stop and withdraw every pending offer"),
                         ("approve", "start the next phase of a rollout waiting for approval")):
        a = sub.add_parser(action, help=text, epilog=EPILOG,
                           description=f"{text[0].upper()}{text[1:]} (recorded with who and when).")
        a.add_argument("id", type=int, help="the rollout id")
        a.add_argument("--note", default="", help="why, for the rollout's record")
        add_connection(a)
        a.set_defaults(func=handled(_action(action)))


def _limits(args: argparse.Namespace) -> dict[str, float]:
    names = ("min_agreement", "min_mean_confidence", "max_uncertain_rate", "max_latency_ms")
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def start_body(args: argparse.Namespace) -> dict[str, Any]:
    """The POST /api/v1/rollouts body for ``rollout start`` arguments."""
    try:
        phases = [int(p) for p in args.phases.split(",") if p.strip()]
    except ValueError:
        raise FleetError(f"--phases {args.phases!r}: give percentages like 5,25,100") from None
    if args.devices:
        targets: dict[str, Any] = {"devices": [d.strip() for d in args.devices.split(",")
                                               if d.strip()]}
    elif args.tag:
        targets = {"tag": args.tag}
    else:
        targets = {"all": True}
    body: dict[str, Any] = {
        "model": args.model, "version": args.version, "targets": targets, "phases": phases,
        "min_devices": args.min_devices, "rollback_on_halt": args.rollback_on_halt,
        "approval": args.approval, "shadow_images": args.shadow_images,
        "shadow_max_s": args.shadow_max_s, "limits": _limits(args),
    }
    limit = args.max_failures.strip()
    try:
        if limit.endswith("%"):
            body["max_failure_pct"] = float(limit[:-1])
        else:
            body["max_failures"] = int(limit)
    except ValueError:
        raise FleetError(f"--max-failures {limit!r}: give a count (2) or a share (10%)") from None
    if args.timeout_s is not None:
        body["timeout_s"] = args.timeout_s
    return body


def _start(args: argparse.Namespace) -> int:
    result = request(args, "POST", "/api/v1/rollouts", json.dumps(start_body(args)).encode())
    print(result["id"])
    return 0


def _list(args: argparse.Namespace) -> int:
    rows = request(args, "GET", "/api/v1/rollouts")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no rollouts")
    for r in rows:
        counts = ", ".join(f"{n} {s}" for s, n in r["counts"].items())
        print(f"{r['id']:>5}  {r['model']} {r['version']:<9} {r['state']:<9} {counts}"
              + (f"  ({r['reason']})" if r["reason"] else ""))
    return 0


#: Seconds between two looks at a rollout with ``status --wait``.
WAIT_POLL_S = 2.0


def _status(args: argparse.Namespace) -> int:
    r = request(args, "GET", f"/api/v1/rollouts/{args.id}")
    if args.wait:
        return _follow(args, r)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(_status_text(r))
    return 0


def _follow(args: argparse.Namespace, r: dict[str, Any]) -> int:
    """Print the rollout whenever it changes until it no longer runs; 0 when completed."""
    import time

    shown = ""
    while True:
        text = json.dumps(r, indent=2) if args.json else _status_text(r)
        if text != shown:
            print(text, flush=True)
            shown = text
        if r["state"] != "running":
            return 0 if r["state"] == "completed" else 1
        time.sleep(WAIT_POLL_S)
        r = request(args, "GET", f"/api/v1/rollouts/{args.id}")


def _status_text(r: dict[str, Any]) -> str:
    """``rollout status`` of one rollout: its state and reason, phases, devices."""
    lines = [f"rollout {r['id']}: {r['model']} {r['version']} {r['state']}"
             + (f" — {r['reason']}" if r["reason"] else "")]
    deaf = [d["device_id"] for d in r["devices"]
            if d.get("takes_offers") is False and d["state"] not in ("active", "failed",
                                                                     "rolled_back")]
    if deaf:
        lines.append(f"  {len(deaf)} device(s) do not take model offers: {', '.join(deaf[:10])}"
                     " (no [updates] section in their agent config; see docs/edge.md)")
    for p in r["phases"]:
        lines.append(f"  phase {p['index'] + 1} ({p['percent']}%, {p['devices']} devices): "
                     f"{p['state']}, {p['active']} active, {p['failed']} failed, "
                     f"{p['in_progress']} in progress")
    for d in r["devices"]:
        gate = d["gate"]
        figures = (f"  agreement {gate['agreement']:.2f} confidence {gate['mean_confidence']:.2f}"
                   f" uncertain {gate['uncertain_rate']:.2f} {gate['latency_ms']:.0f} ms"
                   f" ({gate['images']} images)") if gate else ""
        online = "" if d["online"] else " (offline)"
        no_offers = " (does not take model offers)" if d.get("takes_offers") is False else ""
        lines.append(f"  {d['device_id']:<20} {d['state']:<12}{online}{no_offers}"
                     + (f" {d['reason']}" if d["reason"] else "") + figures)
    return "\n".join(lines)


def _action(action: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        r = request(args, "POST", f"/api/v1/rollouts/{args.id}/{action}",
                    json.dumps({"note": args.note}).encode())
        print(f"rollout {r['id']}: {r['state']}" + (f" — {r['reason']}" if r["reason"] else ""))
        return 0

    return run
