"""DataUploadService demo: uploads through `upload-requests` (a fast one, a slow one, one
with a bad address), and meanwhile the seed's UploadClient over HTTP (a fast and a slow
upload); then the slow uploads' emails, one per address, as the SMTP sink stored them."""

from __future__ import annotations

import itertools
import uuid

from handlers.settings import HandlerSettings
from producers.demos.base import DemoEnv, show_dead_letter, show_result
from producers.uploads import describe, upload
from schemas.catalogue import topic
from schemas.uploads import UploadRequest
from switchyard.simulators.smtp import is_local, received

TOPIC = topic("upload-requests")


def pick(settings: HandlerSettings, prefix: str, fast: bool) -> str:
    """An upload id that is fast (or slow): the service's coin toss is a hash of the id."""

    return next(i for i in (f"{prefix}-{n}" for n in itertools.count()) if settings.uploads.is_fast(i) == fast)


def show_mail(env: DemoEnv, upload_id: str) -> None:
    """The upload's receipts, and each email as the local SMTP sink stored it."""
    receipts = env.call(f"/UploadMailer/{upload_id}/getReceipts")
    env.show(f"{upload_id}: emails sent (UploadMailer/{upload_id}/getReceipts)", receipts)
    mail_dir = env.mail_dir
    if mail_dir is None or not is_local(env.settings.email):
        return
    for receipt in receipts:
        for message in received(mail_dir):
            if message["Message-ID"] == receipt["messageId"]:
                body = message.get_body()
                text = str(body.get_content()).strip() if body is not None else ""
                env.say(f"  in {mail_dir}: To: {message['To']}  Subject: {message['Subject']}  "
                        f"body: {text.splitlines()[-1]}")


def run(env: DemoEnv) -> None:
    s = env.settings.uploads
    env.say(f"DataUploadService: a workflow per upload id; an upload slower than the sync timeout "
            f"({s.sync_timeout.total_seconds():g} s) mails its URL instead, once")
    run_id = uuid.uuid4().hex[:6]  # a workflow runs once per id: fresh ids per run
    fast, slow = pick(env.settings, f"up-{run_id}-fast", True), pick(env.settings, f"up-{run_id}-slow", False)
    with env.reader([TOPIC.results, TOPIC.dlq]) as reader:
        env.send(TOPIC.name, [
            (fast, UploadRequest(email=f"{fast}@example.com").model_dump_json().encode()),
            (slow, UploadRequest(email=f"{slow}@example.com").model_dump_json().encode()),
            (f"up-{run_id}-bad", b'{"email": "not-an-address"}'),
        ])
        env.say("  meanwhile the seed's upload client over HTTP (switchyard upload ID), a fast and a slow upload:")
        clients = [pick(env.settings, f"up-{run_id}-client-fast", True),
                   pick(env.settings, f"up-{run_id}-client-slow", False)]
        for upload_id in clients:
            env.say(f"  POST /DataUploadService/{upload_id}/run/send  {{\"email\": \"{upload_id}@example.com\"}}, "
                    f"then wait up to {s.sync_timeout.total_seconds():g} s for the URL")
            outcome = upload(env.http, upload_id, UploadRequest(email=f"{upload_id}@example.com"),
                             s.sync_timeout.total_seconds())
            if outcome.asked is not None:
                env.say(f"  POST /DataUploadService/{upload_id}/resultAsEmail/send  -> {outcome.asked.status}")
            env.say(f"  {describe(outcome)}")
        records = env.wait(reader, {TOPIC.results: 2, TOPIC.dlq: 1})
    for record in records:
        (show_result if record.topic == TOPIC.results else show_dead_letter)(env, record)
    env.say(f"  GET /restate/workflow/DataUploadService/{clients[1]}/attach  (the slow client upload finishing)")
    response = env.http.get(f"/restate/workflow/DataUploadService/{clients[1]}/attach")
    env.say(f"  -> {response.status_code} {response.text}")
    for upload_id in (slow, clients[1]):
        show_mail(env, upload_id)
