"""The broker accounts of enrolled devices, kept by the broker's dynamic security plugin.

The fleet logs in as its own broker user (``AGRIFLEET_MQTT_URL``) on a short connection of its
own for each change, sends the plugin's commands (:mod:`provisioning.dynsec`) and waits for its
answers: a device's client and role are created when it enrols and deleted when it is revoked
or enrolled again, which closes its open session at once. The password a node sends is passed
to the broker and forgotten; the broker keeps only its hash.
"""

from __future__ import annotations

import secrets

from agrifleet.fleet.broker import broker_address, fleet_client
from agrifleet.fleet.settings import FleetSettings
from agrifleet.provisioning.dynsec import DynsecControl, DynsecError

__all__ = ["BrokerAccounts", "BrokerUnavailable"]


class BrokerUnavailable(RuntimeError):
    """The broker could not be reached, refused the fleet, or did not answer."""


class BrokerAccounts:
    """Create and delete devices' broker accounts through the dynamic security plugin."""

    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return self.settings.mqtt_url is not None

    def _control(self) -> DynsecControl:
        if self.settings.mqtt_url is None:
            raise BrokerUnavailable("the fleet has no broker (AGRIFLEET_MQTT_URL is not set)")
        address = broker_address(self.settings, "the broker's accounts")
        client_id = f"{self.settings.mqtt_client_id}-accounts-{secrets.token_hex(4)}"
        client = fleet_client(self.settings, address, client_id, clean_session=True)
        return DynsecControl(client, address.host, address.port,
                             timeout=self.settings.broker_timeout_s)

    def create_device(self, device_id: str, password: str) -> None:
        """A new account for the device with only its own topics (an old one is replaced)."""
        try:
            with self._control() as control:
                control.create_device(self.settings.mqtt_prefix, device_id, password)
        except DynsecError as exc:
            raise BrokerUnavailable(str(exc)) from None

    def delete_device(self, device_id: str) -> None:
        """Delete the device's account, closing its session; no account is fine."""
        try:
            with self._control() as control:
                control.delete_device(device_id)
        except DynsecError as exc:
            raise BrokerUnavailable(str(exc)) from None

    def pin_client_ids(self) -> list[str]:
        """Pin device accounts made before client ids were pinned (once, after upgrading);
        returns the device ids changed."""
        try:
            with self._control() as control:
                return control.pin_client_ids()
        except DynsecError as exc:
            raise BrokerUnavailable(str(exc)) from None
