"""Over-the-air model updates on the node: offers in, a verified model switched in, or not."""

from agrifleet.edge.updater.updater import Updater

__all__ = ["Updater"]
