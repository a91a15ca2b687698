"""The model registry: checked, signed model packages the fleet can offer to its nodes."""
