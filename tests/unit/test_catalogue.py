import pytest
from pydantic import ValidationError

from schemas.catalogue import STREAM_TOPICS, TOPICS, all_topic_names, describe_error, stream_topic, topic
from schemas.payments import CancelPaymentCommand, MakePaymentCommand


def test_every_topic_has_companions() -> None:
    names = all_topic_names()
    for t in TOPICS:
        assert f"{t.name}-results" in names
        assert f"{t.name}-dlq" in names
    gated = [t for t in TOPICS if t.gated]
    for t in gated:
        assert f"{t.name}-routed" in names
    assert len(names) == len(set(names)) == 3 * len(TOPICS) + len(gated) + len(STREAM_TOPICS)


def test_object_and_workflow_topics_reach_restate_through_the_key_gate() -> None:
    for t in TOPICS:
        assert t.gated == (t.kind in ("object", "workflow"))
        assert t.subscribed_topic == (t.routed if t.gated else t.name)
    # A workflow's run takes one invocation per key: the subscription feeds the shared front.
    assert topic("trip-bookings").subscription_sink == "service://BookingWorkflowIngest/ingest"
    assert topic("package-location-updates").subscription_sink == "service://PackageTracker/updateLocation"
    assert topic("task-queue").subscription_sink == "service://AsyncTaskWorker/runTask"


def test_stream_topics_are_created_with_the_rest() -> None:
    assert stream_topic("risk-alerts").name in all_topic_names()
    with pytest.raises(KeyError, match="risk-alerts"):
        stream_topic("no-such-topic")


def test_unknown_topic_names_known_ones() -> None:
    with pytest.raises(KeyError, match="social-media-posts"):
        topic("no-such-topic")


def test_parse_discriminates_payment_commands() -> None:
    t = topic("payment-commands")
    assert isinstance(t.parse(b'{"action": "cancelPayment"}'), CancelPaymentCommand)
    make = t.parse(b'{"action": "makePayment", "accountId": "abc", "amountCents": 100}')
    assert isinstance(make, MakePaymentCommand)
    assert make.amountCents == 100


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"content": 5, "metadata": "public"}', "content"),
        (b'{"content": "x"}', "metadata: Field required"),
        (b'{"content": "x", "metadata": "m", "extra": 1}', "extra"),
        (b"\xff\xfe", "Invalid JSON"),
    ],
)
def test_bad_posts_are_rejected_with_the_field(raw: bytes, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        topic("social-media-posts").parse(raw)
    assert needle in describe_error(info.value)


def test_a_reason_stays_short_when_the_error_quotes_a_huge_input() -> None:
    """A union's tag error quotes the tag: a 1 MB tag must not make a 1 MB DLQ header."""
    huge = "x" * 1_000_000
    with pytest.raises(ValidationError) as info:
        topic("payment-commands").value.model_validate({"action": huge, "accountId": "a", "amountCents": 1})
    reason = describe_error(info.value)
    assert reason.startswith("(value): Input tag")
    assert len(reason) < 2_000
