"""DataUploadService (sync-to-async upload) through Kafka and HTTP, against the real stack:
a fast upload answers its URL at once and mails nothing; a slow one's URL arrives by
email over SMTP (the stack's sink), exactly once per address however often it is asked."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from handlers.settings import ExampleStackSettings as Settings
from handlers.uploads import BUCKET_BASE, is_fast
from producers.demos import uploads as demo
from producers.uploads import request_of, upload
from schemas.catalogue import topic
from schemas.uploads import UploadRequest
from switchyard.cli.main import main as cli
from switchyard.core.admin import RestateAdmin
from switchyard.simulators.smtp import received
from switchyard.stack.stack import Stack
from tests.integration.conftest import SceneOutput
from tests.integration.kafka_driver import KafkaDriver

TOPIC = topic("upload-requests")


def upload_id(settings: Settings, prefix: str, fast: bool) -> str:
    """An id whose upload is fast (or slow): the toss is a hash of the id, foreseeable."""
    return next(i for i in (f"{prefix}-{n}" for n in itertools.count()) if is_fast(settings.uploads, i) == fast)


def mails_to(stack: Stack, address: str) -> list[EmailMessage]:
    return [m for m in received(stack.home / "mail") if m["To"] == address]


def body_of(message: EmailMessage) -> str:
    part = message.get_body()
    assert part is not None
    return str(part.get_content())


def receipts(ingress: httpx.Client, upload: str) -> list[dict[str, Any]]:
    r = ingress.post(f"/UploadMailer/{upload}/getReceipts")
    assert r.status_code == 200, r.text
    return list(r.json())


def workflow_result(ingress: httpx.Client, upload: str) -> dict[str, Any]:
    r = ingress.get(f"/restate/workflow/DataUploadService/{upload}/attach")
    assert r.status_code == 200, r.text
    return dict(r.json())


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def finished(admin: RestateAdmin, invocation_id: str) -> bool:
    rows = admin.query(f"SELECT status FROM sys_invocation WHERE id = '{invocation_id}'")
    return bool(rows) and rows[0]["status"] == "completed"


def test_a_fast_upload_answers_the_url_at_once_and_mails_nothing(stack: Stack, settings: Settings,
                                                                 ingress: httpx.Client, unique: str) -> None:
    fast = upload_id(settings, unique, fast=True)
    request = UploadRequest(email=f"{fast}@example.com")
    outcome = upload(ingress, fast, request, settings.uploads.sync_timeout.total_seconds())
    assert outcome.submitted.status == "Accepted"
    assert outcome.result is not None, "a fast upload should answer within the sync timeout"
    assert outcome.asked is None
    assert outcome.result.uploadId == fast
    assert outcome.result.url.startswith(f"{BUCKET_BASE}/")
    assert outcome.result.etaMs == settings.uploads.fast_upload_duration.total_seconds() * 1000
    assert outcome.result.emailed is None
    # The run is over (it would have mailed before answering): nothing went out.
    assert receipts(ingress, fast) == []
    assert mails_to(stack, request.email) == []


def test_a_slow_upload_mails_the_url_exactly_once(stack: Stack, settings: Settings, ingress: httpx.Client,
                                                  admin: RestateAdmin, unique: str) -> None:
    slow = upload_id(settings, unique, fast=False)
    request = UploadRequest(email=f"{slow}@example.com")
    started = time.monotonic()
    outcome = upload(ingress, slow, request, settings.uploads.sync_timeout.total_seconds())
    assert outcome.result is None, "a slow upload should outlast the sync timeout"
    assert time.monotonic() - started < settings.uploads.upload_duration.total_seconds()
    assert outcome.asked is not None
    # Both the workflow (slow: it mails by itself) and the client's resultAsEmail asked.
    result = workflow_result(ingress, slow)
    eventually(lambda: finished(admin, outcome.asked.invocationId), "resultAsEmail to finish")  # type: ignore[union-attr]
    [mail] = mails_to(stack, request.email)
    url = result["url"]
    assert url in body_of(mail)
    assert mail["Subject"] == f"Your upload {slow} is ready"
    [receipt] = receipts(ingress, slow)
    assert (receipt["email"], receipt["url"], receipt["messageId"]) == (request.email, url, mail["Message-ID"])
    assert result["emailed"]["messageId"] == receipt["messageId"]

    # Asking again for the same address sends nothing and says so; another address gets one.
    again = ingress.post(f"/DataUploadService/{slow}/resultAsEmail", json={"email": request.email.upper()})
    assert again.status_code == 200, again.text
    assert again.json()["alreadySent"] is True
    assert again.json()["messageId"] == receipt["messageId"]
    other = f"other-{slow}@example.com"
    for _ in range(2):
        r = ingress.post(f"/DataUploadService/{slow}/resultAsEmail", json={"email": other})
        assert r.status_code == 200, r.text
    assert len(mails_to(stack, request.email)) == 1
    [other_mail] = mails_to(stack, other)
    assert url in body_of(other_mail)
    assert len(receipts(ingress, slow)) == 2


def test_a_workflow_runs_once_per_upload_id(settings: Settings, ingress: httpx.Client, unique: str) -> None:
    fast = upload_id(settings, unique, fast=True)
    first = ingress.post(f"/DataUploadService/{fast}/run", json={"email": "ada@example.com"})
    assert first.status_code == 200, first.text
    again = ingress.post(f"/DataUploadService/{fast}/run/send", json={"email": "ada@example.com"})
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "PreviouslyAccepted"
    assert workflow_result(ingress, fast) == first.json()


def test_kafka_records_give_results_and_the_slow_one_an_email(stack: Stack, settings: Settings,
                                                              kafka: KafkaDriver, ingress: httpx.Client,
                                                              unique: str) -> None:
    fast, slow = upload_id(settings, f"{unique}-f", fast=True), upload_id(settings, f"{unique}-s", fast=False)
    fast_mail, slow_mail = f"{fast}@example.com", f"{slow}@example.com"
    fast_out, slow_out = kafka.send(TOPIC, [(fast, json.dumps({"email": fast_mail})),
                                            (slow, json.dumps({"email": slow_mail}))])
    assert fast_out.ok, fast_out.error
    assert slow_out.ok, slow_out.error
    assert fast_out.record.key_text == fast
    assert isinstance(fast_out.result, dict)
    assert isinstance(slow_out.result, dict)
    assert fast_out.result["emailed"] is None
    assert fast_out.result["url"].startswith(f"{BUCKET_BASE}/")
    assert mails_to(stack, fast_mail) == []
    emailed = slow_out.result["emailed"]
    assert (emailed["email"], emailed["reason"], emailed["alreadySent"]) == (slow_mail, "slow", False)
    [mail] = mails_to(stack, slow_mail)
    assert slow_out.result["url"] in body_of(mail)
    assert mail["Message-ID"] == emailed["messageId"]
    assert workflow_result(ingress, slow) == slow_out.result


def test_bad_records_go_to_the_dlq_and_start_nothing(kafka: KafkaDriver, ingress: httpx.Client,
                                                     unique: str) -> None:
    bad = [json.dumps({"email": "not-an-address"}).encode(), b"not json",
           json.dumps({"email": "a@b.c", "size": 1}).encode()]
    outcomes = kafka.send(TOPIC, [(f"{unique}-{n}", raw) for n, raw in enumerate(bad)])
    assert all(o.dead_lettered for o in outcomes)
    assert "email" in (outcomes[0].record.header("error.reason") or "")
    assert "size" in (outcomes[2].record.header("error.reason") or "")
    assert outcomes[0].record.value == bad[0]  # the original bytes, for a replay
    for n in range(len(bad)):
        assert receipts(ingress, f"{unique}-{n}") == []


def test_bad_http_bodies_get_400_naming_the_field(ingress: httpx.Client, unique: str) -> None:
    r = ingress.post(f"/DataUploadService/{unique}/run", json={"email": "nobody"})
    assert r.status_code == 400
    assert "email" in r.text
    r = ingress.post(f"/DataUploadService/{unique}/resultAsEmail", json={"mail": "a@example.com"})
    assert r.status_code == 400
    assert "email" in r.text


def test_upload_command_fast_and_slow(stack: Stack, settings: Settings, unique: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    timeout = str(settings.uploads.sync_timeout.total_seconds())
    fast, slow = upload_id(settings, f"{unique}-f", fast=True), upload_id(settings, f"{unique}-s", fast=False)
    assert cli(["upload", fast, "--ingress", settings.restate.ingress_url, "--timeout", timeout]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Uploading data for {fast}"
    assert out[1].startswith(f"Fast upload... URL was {BUCKET_BASE}/")
    assert cli(["upload", slow, "--ingress", settings.restate.ingress_url, "--timeout", timeout]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Uploading data for {slow}", f"Slow upload... Mail the link later (to {slow}@example.com)"]
    [mail] = eventually(lambda: mails_to(stack, f"{slow}@example.com"), "the slow upload's email")
    assert BUCKET_BASE in body_of(mail)


def test_upload_command_refuses_a_bad_email(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["upload", "u1", "--email", "nobody", "--ingress", settings.restate.ingress_url]) == 2
    assert "email" in capsys.readouterr().err
    with pytest.raises(ValueError, match="email"):
        request_of("u1", "no at sign")


def test_demo_scene_runs(scene_output: SceneOutput) -> None:
    text = scene_output(demo.run)
    assert "upload-requests-dlq" in text
    assert "Fast upload... URL was https://" in text
    assert "Slow upload... Mail the link later" in text
    assert '"reason": "slow"' in text
