"""Ties devices to a fleet: identities, credentials, broker configuration and ACLs."""
