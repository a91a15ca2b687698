"""Alerts that reach a person: webhooks and e-mail, from a durable queue in the database.

:mod:`~fleet.delivery.tables` holds farms' webhooks, people's e-mail settings and the queue;
:mod:`~fleet.delivery.enqueue` turns each alert state change into one delivery per recipient
(at most once); :mod:`~fleet.delivery.message` writes it in the recipient's language;
:mod:`~fleet.delivery.send` posts a signed webhook or sends an e-mail;
:mod:`~fleet.delivery.worker` runs it all with retries and back-off.
"""
