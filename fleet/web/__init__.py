"""The fleet's web layer: the REST API (api/) and the dashboard (dashboard/)."""
