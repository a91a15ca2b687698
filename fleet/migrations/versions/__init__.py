"""Alembic revisions of the fleet schema (a package so wheels ship them)."""
