"""Crop-disease models in the fleet: the registry, rollouts, scouting, observations, verdicts and
advice."""
