"""Who may touch which topic: the fleet the whole prefix, a device only its own topics (and the
fleet's status). The topics come from the contract (:func:`agrifleet.contract.device_topics`)."""

from __future__ import annotations

from agrifleet.contract import FLEET_USER, TopicAccess, device_topics, prefix_filter

Access = TopicAccess


def device_acl(prefix: str, device: str) -> list[tuple[Access, str]]:
    """The topics one device may write (its status and messages) and read (its acks, offers,
    the fleet's status)."""
    return device_topics(prefix, device)


def fleet_acl(prefix: str) -> str:
    """The one filter the fleet's user may read and write."""
    return prefix_filter(prefix)


def topic_matches(topic: str, pattern: str) -> bool:
    """MQTT filter matching for an ACL pattern with + and # wildcards."""
    t_parts, p_parts = topic.split("/"), pattern.split("/")
    for i, part in enumerate(p_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(t_parts) == len(p_parts)


def allowed(user: str, prefix: str, access: Access, topic: str) -> bool:
    """Whether ``user`` may ``access`` ``topic`` (a topic or, for reads, a subscription filter)."""
    if user == FLEET_USER:
        return topic_matches(topic, fleet_acl(prefix))
    return any(
        acc == access and (topic == pattern or topic_matches(topic, pattern))
        for acc, pattern in device_acl(prefix, user)
    )
