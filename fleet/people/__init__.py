"""People and farms: accounts, farms and farm scoping, fields, audit, sign-in (auth/)."""
