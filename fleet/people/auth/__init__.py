"""Who is calling: service and personal tokens, passwords, sessions, login throttling, and the
:class:`~fleet.people.auth.principal.Principal` every route is given."""

from agrifleet.fleet.people.auth.tokens import TOKEN_PREFIX, create_token, find_token, hash_token

__all__ = ["TOKEN_PREFIX", "create_token", "find_token", "hash_token"]
