"""Each catalogue topic's sample record (what `switchyard load` and `switchyard produce
--generate` send) is one its schema takes."""

from __future__ import annotations

import pytest

from schemas.catalogue import TOPICS, Topic, topic
from switchyard.ops.load import LoadSpec, sample_of, sample_records


@pytest.mark.parametrize("t", [t for t in TOPICS if t.sample is not None], ids=lambda t: t.name)
@pytest.mark.parametrize(("n", "size"), [(0, 100), (1, 1), (7, 5_000)])
def test_each_sample_fits_its_topic(t: Topic, n: int, size: int) -> None:
    assert t.sample is not None
    t.parse(t.sample(n, size).model_dump_json().encode())


def test_the_bench_sample_is_the_size_asked_for() -> None:
    sample = topic("bench-events").sample
    assert sample is not None
    assert len(sample(0, 500).model_dump_json()) == 500


def test_only_the_signed_webhooks_have_no_sample() -> None:
    assert [t.name for t in TOPICS if t.sample is None] == ["payment-webhooks"]


def test_the_load_generator_refuses_a_topic_without_a_sample_or_unknown() -> None:
    with pytest.raises(ValueError, match="payment-webhooks: no sample record to send") as refused:
        LoadSpec("payment-webhooks", count=1)
    assert "bench-events" in str(refused.value)  # names the topics it can load
    with pytest.raises(ValueError, match="unknown input topic 'nope'"):
        sample_of("nope")


def test_a_bench_variant_sends_the_records_it_is_named_after() -> None:
    spec = LoadSpec("bench-events.p4", count=1, records_of="bench-events")
    assert spec.sample is topic("bench-events").sample
    with pytest.raises(ValueError, match="unknown input topic"):
        LoadSpec("bench-events.p4", count=1)


def test_generated_records_are_the_topics_samples_over_the_keys_asked_for() -> None:
    trips = sample_records("trip-bookings", 3, None, seed=7)
    assert [key for key, _ in trips] == ["trip0", "trip1", "trip2"]  # a workflow: a key per record
    for n, (_, value) in enumerate(trips):
        assert topic("trip-bookings").parse(value).flights.flightId == f"f{n}"
    posts = sample_records("social-media-posts", 50, 3, seed=7)
    assert {key for key, _ in posts} == {"user0", "user1", "user2"}
    assert posts == sample_records("social-media-posts", 50, 3, seed=7)  # the seed decides
    with pytest.raises(ValueError, match="payment-webhooks: no sample record to send"):
        sample_records("payment-webhooks", 1, None, seed=7)
