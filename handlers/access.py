"""Who may call an example's handler through Restate's ingress: the framework's
``public``/``private`` (switchyard/core/access.py), under the name the examples import.
CONTRACT.md's HTTP paths, the Kafka sinks it names and the queries (``get*`` shared
handlers) are public; tests/unit/test_ingress_access.py checks the set against it."""

from switchyard.core.access import QUERY, WHY, Access, private, public

__all__ = ["QUERY", "WHY", "Access", "private", "public"]
