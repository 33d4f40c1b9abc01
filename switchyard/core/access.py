"""Who may call a handler through Restate's ingress: anyone, or only other handlers.

An app's public surface is its HTTP paths, its Kafka sinks and its queries. Every other
handler is one service's helper for another (in the examples: a wallet credit, a limit
reset, an account move, a saga step, a ledger entry): registered ingress-private,
Restate answers a caller on the ingress with a 4xx before any code runs, and only a call
from a handler reaches it.

Every registration says which and why, in one phrase: ``**public("...")`` or
``**private("...")``. The flag is the SDK's ``ingress_private``; the phrase travels as
handler metadata (``switchyard.ingress``, shown by Restate's admin API and UI). The
README's handler table is made from both (`switchyard handlers`), and for the examples
tests/unit/test_ingress_access.py checks the public set against CONTRACT.md.
"""

from __future__ import annotations

from typing import TypedDict

WHY = "switchyard.ingress"  # handler metadata: why the handler is public or private


class Access(TypedDict, total=False):
    """Registration options of a handler (for ``service.handler(...)``, ``sink_handler``,
    ``body_handler``)."""

    ingress_private: bool
    metadata: dict[str, str]


def public(why: str) -> Access:
    """A handler of the public surface: an HTTP path, a Kafka sink or a query."""
    return {"metadata": {WHY: why}}


def private(why: str) -> Access:
    """A helper only other handlers call: refused on the ingress."""
    return {"ingress_private": True, "metadata": {WHY: why}}


QUERY = public("query: reads state only")
