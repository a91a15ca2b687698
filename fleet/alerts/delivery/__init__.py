"""Alerts that reach a person: webhooks and e-mail, from a durable queue in the database.

:mod:`~fleet.alerts.delivery.tables` holds farms' webhooks, people's e-mail settings and the queue;
:mod:`~fleet.alerts.delivery.enqueue` turns each alert state change into one delivery per recipient
(at most once); :mod:`~fleet.alerts.delivery.message` writes it in the recipient's language;
:mod:`~fleet.alerts.delivery.send` posts a signed webhook or sends an e-mail;
:mod:`~fleet.alerts.delivery.worker` runs it all with retries and back-off.
"""
