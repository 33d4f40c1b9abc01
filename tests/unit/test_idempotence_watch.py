"""The idempotence watch reads librdkafka's statistics, whatever text arrives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.kafka import IdempotenceWatch

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=10)


def reported(text: str) -> object:
    """What the statistics say the state is, if they say it."""
    try:
        doc = json.loads(text)
        return doc["eos"]["idemp_state"]
    except (ValueError, KeyError, TypeError):
        return None


@given(st.one_of(st.text(max_size=40), JSON.map(json.dumps)))
def test_any_statistics_text_is_taken_without_an_error(text: str) -> None:
    # The callback runs inside the producer's poll: an exception there would end the load run.
    watch = IdempotenceWatch()
    watch(text)
    said = reported(text)
    assert watch.state == (said if isinstance(said, str) else None)


@given(st.sampled_from(["Init", "WaitTransport", "WaitPID", "Assigned", "FatalError"]))
def test_the_reported_state_is_kept(state: str) -> None:
    watch = IdempotenceWatch()
    watch(json.dumps({"name": "rdkafka#producer-1", "eos": {"idemp_state": state, "producer_id": 3}}))
    assert watch.state == state
