"""Phased, gated rollouts of a registry package to a set of devices."""
