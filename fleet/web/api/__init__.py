"""The REST API: dependencies, shared parameters and one router per resource."""
