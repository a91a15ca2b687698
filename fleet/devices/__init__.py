"""The field nodes: enrolment, their broker accounts."""
