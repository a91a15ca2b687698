"""Access to every API route, taken from the OpenAPI document so that new routes are covered
without editing this file: without credentials, or with a malformed, forged, expired or revoked
token, every route is a 401; a viewer is refused (403) what needs a technician or an admin; a
user of farm Alpha gets a 404 for each of farm Bravo's objects (devices, detections, rollouts,
the farm, its fields, its people, their tokens and memberships) and never sees any of them in
any answer."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session, select

from agrifleet.fleet.alerts.delivery.tables import Webhook
from agrifleet.fleet.alerts.tables import CODES, Alert, AlertRule
from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.modelops.registry.tables import ModelPackage
from agrifleet.fleet.modelops.rollouts.tables import Rollout, RolloutDevice, RolloutEvent
from agrifleet.fleet.people.tables import Field_
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import detection, event, jpeg_bytes, reading
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token
from tests.fleet.web.api.rows import store_items

#: Routes anyone may call: signing in is how one gets credentials.
PUBLIC = {("post", "/api/v1/auth/login"), ("get", "/healthz"),
          ("post", "/api/v1/enrol")}  # a node's one-time code is its only credential
#: What farm Bravo's objects are called; none of these may reach a user of farm Alpha.
BRAVO_MARKERS = ("dev-bravo", "Farm Bravo", "bravo.example", "bravo-field", "bravo-maker")

#: What a viewer of farm Alpha gets on Alpha's objects: 403 where the role is too weak, 404
#: where even the object is not theirs to see (other people, their tokens and memberships),
#: else the call goes through. Every operation must be listed (a new route states its rule).
VIEWER = {
    "get /api/v1/devices": 200, "post /api/v1/devices": 403,
    "get /api/v1/devices/{device_id}": 200, "patch /api/v1/devices/{device_id}": 403,
    "get /api/v1/devices/{device_id}/gaps": 200, "get /api/v1/devices/{device_id}/readings": 200,
    "get /api/v1/devices/{device_id}/events": 200,
    "get /api/v1/detections": 200, "get /api/v1/detections/{detection_id}": 200,
    "get /api/v1/detections/{detection_id}/image": 200,
    "post /api/v1/models": 403, "get /api/v1/models": 200,
    "get /api/v1/models/{name}/{version}": 200,
    "get /api/v1/models/{name}/{version}/package": 403,
    "post /api/v1/rollouts": 403, "get /api/v1/rollouts": 200,
    "get /api/v1/rollouts/{rollout_id}": 200, "post /api/v1/rollouts/{rollout_id}/{action}": 403,
    "post /api/v1/auth/logout": 200, "get /api/v1/auth/me": 200,
    "get /api/v1/farms": 200, "post /api/v1/farms": 403, "get /api/v1/farms/{farm_id}": 200,
    "patch /api/v1/farms/{farm_id}": 403, "delete /api/v1/farms/{farm_id}": 403,
    "get /api/v1/farms/{farm_id}/fields": 200, "post /api/v1/farms/{farm_id}/fields": 403,
    "get /api/v1/farms/{farm_id}/fields/{field_id}": 200,
    "patch /api/v1/farms/{farm_id}/fields/{field_id}": 403,
    "delete /api/v1/farms/{farm_id}/fields/{field_id}": 403,
    "get /api/v1/users": 403, "post /api/v1/users": 403, "get /api/v1/users/{user_id}": 404,
    "patch /api/v1/users/{user_id}": 404, "delete /api/v1/users/{user_id}": 404,
    "get /api/v1/memberships": 200, "post /api/v1/memberships": 403,
    "patch /api/v1/memberships/{user_id}/{farm_id}": 403,
    "delete /api/v1/memberships/{user_id}/{farm_id}": 404,
    "get /api/v1/tokens": 200, "post /api/v1/tokens": 201, "delete /api/v1/tokens/{token_id}": 404,
    "get /api/v1/audit": 403, "get /metrics": 403,
    "post /api/v1/devices/{device_id}/enrolment-code": 403,
    "post /api/v1/devices/{device_id}/revoke": 403,
    "get /api/v1/alerts": 200, "get /api/v1/alerts/{alert_id}": 200,
    "post /api/v1/alerts/{alert_id}/acknowledge": 200, "post /api/v1/alerts/{alert_id}/clear": 403,
    "get /api/v1/alert-rules": 200, "post /api/v1/alert-rules": 403,
    "get /api/v1/alert-rules/{rule_id}": 200, "patch /api/v1/alert-rules/{rule_id}": 403,
    "delete /api/v1/alert-rules/{rule_id}": 403,
    "post /api/v1/detections/{detection_id}/verdict": 200,
    "post /api/v1/observations/{observation_id}/verdict": 200,
    "get /api/v1/farms/{farm_id}/export": 403, "post /api/v1/farms/{farm_id}/erase": 403,
    "get /api/v1/farms/{farm_id}/data-policy": 200,
    "post /api/v1/farms/{farm_id}/exports": 403,
    "get /api/v1/farms/{farm_id}/exports/{job_id}": 403,
    "get /api/v1/farms/{farm_id}/exports/{job_id}/download": 403,
    "patch /api/v1/farms/{farm_id}/data-policy": 403,
    "get /api/v1/models/{name}/{version}/field-precision": 200,
    "get /api/v1/observations": 200, "post /api/v1/observations": 422,  # (no photo sent)
    "get /api/v1/observations/{observation_id}": 200,
    "get /api/v1/observations/{observation_id}/photo": 200,
    "get /api/v1/observations/{observation_id}/thumbnail": 200,
    "get /api/v1/advice": 422,  # (no label asked)
    "get /api/v1/fields/{field_id}/risk": 200,
    "get /api/v1/fields/{field_id}/risk/parameters": 200,
    "put /api/v1/fields/{field_id}/risk/parameters/{model}": 403,
    "get /api/v1/webhooks": 200, "post /api/v1/webhooks": 403,
    "delete /api/v1/webhooks/{webhook_id}": 403,
    "get /api/v1/alerts/{alert_id}/deliveries": 200,
    "get /api/v1/notifications": 200, "put /api/v1/notifications": 200,
    "post /api/v1/farms/{farm_id}/invitations": 403, "get /api/v1/farms/{farm_id}/invitations": 403,
    "delete /api/v1/farms/{farm_id}/invitations/{invitation_id}": 403,
    "post /api/v1/invitations/{token}/accept": 404,  # (not made for the viewer's e-mail)
    "get /api/v1/farms/{farm_id}/sign-in-attempts": 403,
}
#: Bodies that name a farm's object: with Bravo's, a user of Alpha gets a 404.
SCOPED_BODIES = {"post /api/v1/devices", "post /api/v1/users", "post /api/v1/memberships",
                 "post /api/v1/rollouts", "post /api/v1/webhooks"}


@dataclass
class Farm:
    """One farm's objects, as path parameters and request bodies name them."""

    params: dict[str, Any]
    device: str
    farm_id: int


@dataclass
class World:
    fleet: FleetUnderTest
    alpha: Farm
    bravo: Farm
    alpha_admin: dict[str, str]
    alpha_tech: dict[str, str]
    alpha_viewer: dict[str, str]
    expired: dict[str, str]
    revoked: dict[str, str]

    def operations(self) -> list[tuple[str, str]]:
        spec = self.fleet.app.openapi()
        ops = [(method, path) for path, item in spec["paths"].items() for method in item]
        return [op for op in ops if op not in PUBLIC]

    def call(self, method: str, path: str, farm: Farm, headers: dict[str, str]) -> Any:
        url = path.format(**farm.params)
        body = _body(f"{method} {path}", farm)
        if method == "post" and path == "/api/v1/models":
            return self.fleet.client.post(url, content=b"", headers=headers)
        if body is None:
            return self.fleet.client.request(method.upper(), url, headers=headers)
        return self.fleet.client.request(method.upper(), url, json=body, headers=headers)


def _body(op: str, farm: Farm) -> dict[str, Any] | None:
    bodies: dict[str, dict[str, Any]] = {
        "post /api/v1/devices": {"id": f"new-{farm.device}", "farm_id": farm.farm_id},
        "patch /api/v1/devices/{device_id}": {"name": "renamed"},
        "post /api/v1/rollouts": {"model": "leaf", "version": "1.0.0",
                                  "targets": {"devices": [farm.device]}},
        "post /api/v1/farms": {"name": "Another farm"},
        "patch /api/v1/farms/{farm_id}": {"name": "Renamed farm"},
        "post /api/v1/farms/{farm_id}/fields": {"name": "new field", "crop": "rice"},
        "patch /api/v1/farms/{farm_id}/fields/{field_id}": {"crop": "tea"},
        "post /api/v1/users": {"email": f"new@{farm.device}.example",
                               "password": "a long new password", "farm_id": farm.farm_id},
        "patch /api/v1/users/{user_id}": {"language": "zh"},
        "post /api/v1/memberships": {"user_id": farm.params["user_id"], "farm_id": farm.farm_id,
                                     "role": "viewer"},
        "patch /api/v1/memberships/{user_id}/{farm_id}": {"role": "viewer"},
        "post /api/v1/tokens": {"name": "walker"},
        "post /api/v1/detections/{detection_id}/verdict": {"verdict": "confirmed"},
        "post /api/v1/observations/{observation_id}/verdict": {"verdict": "confirmed"},
        "post /api/v1/farms/{farm_id}/erase": {"confirm": "not the farm's name"},
        "patch /api/v1/farms/{farm_id}/data-policy": {"readings_days": 30},
        "patch /api/v1/alert-rules/{rule_id}": {"name": "renamed rule"},
        "put /api/v1/fields/{field_id}/risk/parameters/{model}": {"spray_interval": 15},
        "post /api/v1/webhooks": {"farm_id": farm.farm_id,
                                  "url": "https://hooks.example.org/agrifleet"},
        "put /api/v1/notifications": {"email": False},
        "post /api/v1/farms/{farm_id}/invitations": {"email": f"new@{farm.device}.example"},
    }
    return bodies.get(op)


def _farm(fleet: FleetUnderTest, farm_id: int, name: str, domain: str,
          package_id: int) -> tuple[Farm, dict[str, int]]:
    """A farm with a device (readings, a detection with image, an event), a field, an admin,
    a technician and a viewer each with a personal token, and a rollout of its device."""
    engine = fleet.app.state.engine
    device = f"dev-{name.lower()}"
    response = fleet.client.post("/api/v1/devices", headers=fleet.admin,
                                 json={"id": device, "farm_id": farm_id})
    assert response.status_code == 201, response.text
    store_items(fleet.app, device, [reading(0), detection(1, image=jpeg_bytes()), event(2)])
    users = {role: add_user(engine, f"{role}@{domain}", {farm_id: role})
             for role in ("admin", "technician", "viewer")}
    with Session(engine) as session:
        field = Field_(farm_id=farm_id, name=f"{name.lower()}-field", crop="coffee")
        rollout = Rollout(model="leaf", version="1.0.0", package_id=package_id,
                          targets={"devices": [device]}, phases=[100], min_devices=1,
                          shadow_images=0, shadow_max_s=0, limits={}, state="completed",
                          created_by=f"{name.lower()}-maker")
        session.add(field)
        session.add(rollout)
        session.flush()
        session.add(RolloutDevice(rollout_id=rollout.id or 0, device_id=device, phase=0,
                                  state="active"))
        session.commit()
        field_id, rollout_id = field.id, rollout.id
    detection_id = fleet.get("/api/v1/detections", device=device)[0]["id"]
    now = datetime.now(UTC)
    with Session(engine) as session:
        rule = AlertRule(name=f"{name.lower()}-rule", kind="offline", farm_id=farm_id,
                         created_by=f"{name.lower()}-maker")
        session.add(rule)
        session.flush()
        alert = Alert(rule_id=rule.id or 0, kind="offline", code=CODES["offline"], params={},
                      device_id=device, farm_id=farm_id, condition="offline",
                      open_key=f"{rule.id}/{device}/offline", state="active",
                      first_seen=now, last_seen=now)
        session.add(alert)
        session.commit()
        hook = Webhook(farm_id=farm_id, name=f"{name.lower()}-hook", secret="s" * 32,
                       url=f"http://hooks.{domain}/in", created_by=f"{name.lower()}-maker")
        session.add(hook)
        session.commit()
        rule_id, alert_id, webhook_id = rule.id, alert.id, hook.id
    scouted = fleet.client.post(
        "/api/v1/observations", headers=fleet.admin,
        files={"photo": ("leaf.jpg", _leaf_photo(), "image/jpeg")},
        data={"client_id": str(uuid.uuid4()), "farm_id": str(farm_id)})
    assert scouted.status_code == 201, scouted.text
    token_id, _ = personal_token(engine, users["admin"], name=f"{name.lower()}-token")
    invited = fleet.client.post(f"/api/v1/farms/{farm_id}/invitations", headers=fleet.admin,
                                json={"email": f"invited@{domain}", "role": "admin"})
    assert invited.status_code == 201, invited.text
    params = {"device_id": device, "detection_id": detection_id, "farm_id": farm_id,
              "field_id": field_id, "user_id": users["technician"], "token_id": token_id,
              "rollout_id": rollout_id, "action": "pause", "name": "leaf", "version": "1.0.0",
              "alert_id": alert_id, "rule_id": rule_id, "observation_id": scouted.json()["id"],
              "model": "tomcast", "webhook_id": webhook_id,
              "invitation_id": invited.json()["id"], "token": invited.json()["token"],
              "job_id": f"{farm_id:032x}"}  # no such export: the farm and role are checked first
    return Farm(params=params, device=device, farm_id=farm_id), users


def _leaf_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (96, 96), (40, 160, 60)).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def world(api: FleetUnderTest) -> World:
    engine = api.app.state.engine
    with Session(engine) as session:
        package = ModelPackage(name="leaf", version="1.0.0", sha256="0" * 64, size=1,
                               model_sha256="0" * 64, key_id="k", published_by="x",
                               published_role="admin", manifest={})
        session.add(package)
        session.commit()
        package_id = package.id or 0
    bravo_id = add_farm(engine, "Farm Bravo")
    alpha, alpha_users = _farm(api, DEFAULT_FARM_ID, "Alpha", "alpha.example", package_id)
    bravo, _ = _farm(api, bravo_id, "Bravo", "bravo.example", package_id)
    tokens = {role: bearer(personal_token(engine, user)[1]) for role, user in alpha_users.items()}
    return World(api, alpha, bravo, tokens["admin"], tokens["technician"], tokens["viewer"],
                 bearer(personal_token(engine, alpha_users["admin"], expired=True)[1]),
                 bearer(personal_token(engine, alpha_users["admin"], revoked=True)[1]))


def test_every_route_needs_valid_credentials(world: World) -> None:
    refusals = {"none": {}, "malformed": {"Authorization": "Bearer not a token"},
                "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
                "forged service": bearer("agf_" + "A" * 43),
                "forged personal": bearer("agu_" + "A" * 43),
                "forged cookie": {"Cookie": "agrifleet_session=ags_" + "A" * 43},
                "expired": world.expired, "revoked": world.revoked}
    wrong = []
    for method, path in world.operations():
        for what, headers in refusals.items():
            status = world.call(method, path, world.alpha, headers).status_code
            if status != 401:
                wrong.append(f"{method} {path} with {what}: {status}")
    assert not wrong, "\n".join(wrong)


def test_a_viewer_is_refused_what_needs_a_stronger_role(world: World) -> None:
    ops = {f"{m} {p}" for m, p in world.operations()}
    assert ops == set(VIEWER), f"state the viewer's rule for: {ops ^ set(VIEWER)}"
    wrong = []
    for method, path in world.operations():
        status = world.call(method, path, world.alpha, world.alpha_viewer).status_code
        if status != VIEWER[f"{method} {path}"]:
            wrong.append(f"{method} {path}: {status}")
    assert not wrong, "\n".join(wrong)
    # What needs an admin is refused to a technician too.
    for method, path in [("get", "/api/v1/users"), ("post", "/api/v1/users"),
                         ("post", "/api/v1/farms"), ("post", "/api/v1/memberships"),
                         ("patch", "/api/v1/farms/{farm_id}"), ("get", "/api/v1/audit")]:
        status = world.call(method, path, world.alpha, world.alpha_tech).status_code
        assert status == 403, (method, path, status)


def test_another_farms_objects_are_404(world: World) -> None:
    checked, wrong = 0, []
    for method, path in world.operations():
        op = f"{method} {path}"
        scoped = any(f"{{{name}}}" in path for name in world.bravo.params
                     if name not in ("action", "name", "version"))
        if not scoped and op not in SCOPED_BODIES:
            continue
        checked += 1
        for who, headers in (("admin", world.alpha_admin), ("viewer", world.alpha_viewer)):
            response = world.call(method, path, world.bravo, headers)
            if response.status_code != 404 and not (
                    who == "viewer" and response.status_code == 403):
                wrong.append(f"{op} as Alpha's {who}: {response.status_code} {response.text}")
            if any(marker in response.text for marker in BRAVO_MARKERS[1:]):
                wrong.append(f"{op} as Alpha's {who} tells of Bravo: {response.text}")
    assert checked >= 25 and not wrong, "\n".join(wrong)


def test_no_answer_shows_another_farms_objects(world: World) -> None:
    seen, leaks = 0, []
    for method, path in world.operations():
        if method != "get":
            continue
        for headers in (world.alpha_admin, world.alpha_tech, world.alpha_viewer):
            response = world.call(method, path, world.alpha, headers)
            seen += response.status_code == 200
            text = response.text if response.headers.get("content-type", "").startswith(
                "application/json") else ""
            leaks += [f"get {path}: {m}" for m in BRAVO_MARKERS if m in text]
    assert seen >= 40 and not leaks, leaks
    # The fleet-wide service token does see Bravo (the markers are real).
    assert "dev-bravo" in world.fleet.client.get("/api/v1/devices",
                                                 headers=world.fleet.admin).text


def test_a_rollout_across_farms_shows_each_farm_its_own_devices_only(world: World) -> None:
    """A service token's rollout to "all" spans both farms; Alpha's people follow it without
    learning Bravo's devices: not in the list, the counts, the phases, the targets or the
    events and reason, which name them "a device of another farm"."""
    alpha, bravo = world.alpha.device, world.bravo.device
    with Session(world.fleet.app.state.engine) as session:
        [package] = session.exec(select(ModelPackage)).all()
        rollout = Rollout(model="leaf", version="1.0.0", package_id=package.id or 0,
                          targets={"devices": [alpha, bravo]}, phases=[50, 100],
                          min_devices=1, shadow_images=0, shadow_max_s=0, limits={},
                          state="halted", reason=f"{bravo} failed: no model",
                          created_by="fleet-ops (admin)")
        session.add(rollout)
        session.flush()
        rid = rollout.id or 0
        session.add(RolloutDevice(rollout_id=rid, device_id=alpha, phase=0, state="active"))
        session.add(RolloutDevice(rollout_id=rid, device_id=bravo, phase=1, state="failed"))
        session.add(RolloutEvent(rollout_id=rid, actor="engine", action="halted",
                                 detail=f"{bravo} failed; {alpha} active"))
        session.commit()
    everyone = world.fleet.get(f"/api/v1/rollouts/{rid}")  # the service token sees it all
    assert {d["device_id"] for d in everyone["devices"]} == {alpha, bravo}
    for caller in (world.alpha_viewer, world.alpha_admin):
        shown = world.fleet.client.get(f"/api/v1/rollouts/{rid}", headers=caller).json()
        assert [d["device_id"] for d in shown["devices"]] == [alpha]
        assert shown["counts"] == {"active": 1}
        assert [p["devices"] for p in shown["phases"]] == [1, 0]
        assert shown["targets"] == {"devices": [alpha]}
        assert bravo not in str(shown), shown
        assert shown["reason"] == "a device of another farm failed: no model"
        [event] = [e for e in shown["events"] if e["action"] == "halted"]
        assert event["detail"] == f"a device of another farm failed; {alpha} active"
        listed = world.fleet.client.get("/api/v1/rollouts", headers=caller).json()
        [mine] = [r for r in listed if r["id"] == rid]
        assert mine["counts"] == {"active": 1} and bravo not in str(mine)
