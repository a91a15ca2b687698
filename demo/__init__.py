"""A whole fleet on one machine: the ``agrifleet demo`` command and the end-to-end tests' fleet.

It imports every part (broker, fleet, simulators, agents), so it lives above them, not on the
shared ground floor in ``agrifleet/``.
"""
