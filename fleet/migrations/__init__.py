"""Alembic environment and revisions of the fleet database schema."""
