import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError

from handlers.settings import EmailSettings, UploadSettings
from handlers.uploads import (
    BUCKET_BASE,
    address,
    bucket_url,
    compose,
    create_bucket,
    eta,
    first_receipt,
    is_fast,
    new_message_id,
    upload_data,
)
from producers.uploads import UploadOutcome, default_email, describe, request_of
from schemas.uploads import EmailReceipt, EmailRequest, SubmittedUpload, UploadRequest, UploadResult
from switchyard.cli.main import parser

IDS = [f"upload-{n}" for n in range(400)]


def receipt(email: str = "ada@example.com", **changes: object) -> EmailReceipt:
    fields: dict[str, object] = {"uploadId": "u1", "email": email, "url": bucket_url(42),
                                 "messageId": "<m1@switchyard>", "sentAt": 1, "reason": "slow"}
    return EmailReceipt.model_validate({**fields, **changes})


def test_the_coin_toss_is_a_function_of_seed_and_id() -> None:
    settings = UploadSettings()
    assert [is_fast(settings, i) for i in IDS] == [is_fast(settings, i) for i in IDS]
    reseeded = UploadSettings(speed_seed=1)
    assert [is_fast(settings, i) for i in IDS] != [is_fast(reseeded, i) for i in IDS]


@pytest.mark.parametrize("probability", [0.0, 0.25, 0.5, 1.0])
def test_the_share_of_fast_uploads_follows_the_probability(probability: float) -> None:
    settings = UploadSettings(fast_upload_probability=probability)
    share = sum(is_fast(settings, i) for i in IDS) / len(IDS)
    assert abs(share - probability) < 0.1
    if probability in (0.0, 1.0):
        assert share == probability


def test_the_eta_is_the_fast_or_the_slow_duration() -> None:
    settings = UploadSettings(upload_duration=timedelta(seconds=10), fast_upload_duration=timedelta(seconds=1))
    fast = next(i for i in IDS if is_fast(settings, i))
    slow = next(i for i in IDS if not is_fast(settings, i))
    assert eta(settings, fast) == timedelta(seconds=1)
    assert eta(settings, slow) == timedelta(seconds=10)


def test_the_defaults_make_slow_uploads_outlast_the_sync_timeout_and_fast_ones_not() -> None:
    s = UploadSettings()
    assert s.fast_upload_duration < s.sync_timeout < s.upload_duration
    assert s.sync_timeout == timedelta(seconds=5)  # the contract's default


def test_the_url_is_the_seeds_bucket_url() -> None:
    assert bucket_url(257587941) == f"{BUCKET_BASE}/257587941/"
    assert asyncio.run(create_bucket(bucket_url(1))) == bucket_url(1)
    assert asyncio.run(upload_data(bucket_url(1), 0)) is None


def test_one_inbox_however_the_address_is_spelled() -> None:
    assert address(" Ada@Example.COM ") == address("ada@example.com")
    assert address("ada@example.com") != address("bob@example.com")


def test_a_second_order_for_an_address_answers_the_first_receipt() -> None:
    first = receipt()
    receipts = {address(first.email): first}
    again = first_receipt(receipts, "ADA@example.com")
    assert again is not None
    assert again.alreadySent
    assert again.model_dump(exclude={"alreadySent"}) == first.model_dump(exclude={"alreadySent"})
    assert first_receipt(receipts, "bob@example.com") is None
    assert first_receipt({}, "ada@example.com") is None


def test_message_ids_are_unique_and_well_formed() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("<upload-") and i.endswith("@switchyard>") for i in ids)


def test_the_email_carries_the_url_and_the_journaled_message_id() -> None:
    settings = EmailSettings(sender="uploads@example.org")
    message = compose(settings, receipt())
    assert (message["From"], message["To"], message["Message-ID"]) == ("uploads@example.org", "ada@example.com",
                                                                       "<m1@switchyard>")
    assert message["Subject"] == "Your upload u1 is ready"
    body = message.get_body()
    assert body is not None
    assert bucket_url(42) in body.get_content()


@pytest.mark.parametrize("bad", ['{"email": "nobody"}', '{"email": "a b@c.d"}', '{}', '{"email": 5}',
                                 '{"email": "a@b.c", "size": 1}', '{"email": "' + "a" * 320 + '@b.c"}'])
def test_the_schema_refuses_bad_requests(bad: str) -> None:
    with pytest.raises(ValidationError):
        UploadRequest.model_validate_json(bad)
    with pytest.raises(ValidationError):
        EmailRequest.model_validate_json(bad)


def test_the_result_round_trips_with_and_without_an_email() -> None:
    fast = UploadResult(uploadId="u1", url=bucket_url(1), etaMs=1500)
    slow = UploadResult(uploadId="u2", url=bucket_url(2), etaMs=10_000, emailed=receipt())
    for result in (fast, slow):
        assert UploadResult.model_validate_json(result.model_dump_json()) == result
    assert fast.model_dump()["emailed"] is None


def test_restates_send_answer_is_read_leniently() -> None:
    sent = SubmittedUpload.model_validate({"invocationId": "inv_1", "status": "PreviouslyAccepted", "new": 1})
    assert (sent.invocationId, sent.status) == ("inv_1", "PreviouslyAccepted")


def test_the_client_mails_the_seeds_address_unless_told_otherwise() -> None:
    assert default_email("someone21") == "someone21@example.com"
    assert request_of("someone21", None).email == "someone21@example.com"
    assert request_of("someone21", "ada@example.com").email == "ada@example.com"
    with pytest.raises(ValueError, match="email"):
        request_of("someone21", "nobody")


def test_the_client_says_what_the_seeds_client_says() -> None:
    sent = SubmittedUpload(invocationId="inv_1", status="Accepted")
    fast = UploadOutcome("u1", sent, UploadResult(uploadId="u1", url=bucket_url(7), etaMs=1500), "u1@example.com")
    slow = UploadOutcome("u2", sent, None, "u2@example.com")
    assert describe(fast) == f"Fast upload... URL was {bucket_url(7)}"
    assert describe(slow) == "Slow upload... Mail the link later (to u2@example.com)"


def test_the_client_takes_an_id_an_address_and_a_timeout() -> None:
    args = parser().parse_args(["upload", "u1", "--email", "ada@example.com", "--timeout", "2.5"])
    assert (args.upload_id, args.email, args.timeout) == ("u1", "ada@example.com", 2.5)
    with pytest.raises(SystemExit):
        parser().parse_args(["upload"])
