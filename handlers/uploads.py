"""DataUploadService: the sync-to-async upload, one workflow per uploadId, fed by
`upload-requests` (key uploadId, value `{"email"}`) or `POST /DataUploadService/{id}/run`.

`run` creates a bucket (its URL drawn from the context's random, journaled), uploads the
data (simulated: fast or slow, `UploadSettings`), resolves the durable promise `url` and
answers the URL. Like the seed's upload client, the workflow waits for the upload only up
to the sync timeout (a durable timer raced against the upload): an upload that outlasts
it mails its URL to the request's address once it is done. A Kafka record has no caller
waiting at all, so this is how its sender gets the URL; an HTTP caller gets the answer
and the email, whether or not it gave up.

`resultAsEmail` (shared) awaits the promise and mails the URL to the address in its body,
the seed's way for a caller that stopped waiting. It may come before, during or after
`run`; for an uploadId whose workflow never starts it waits (as in the seed).

Once per request: every email goes through `UploadMailer/{uploadId}/send`, a virtual
object whose exclusive handler keeps one receipt per address. The first order for an
address sends it (Message-ID journaled with ctx.run, SMTP delivery in a ctx.run); every
later order for that upload and address — resultAsEmail again, or the run's own mail
after the client asked — answers the first receipt with `alreadySent: true` and sends
nothing. Another address gets its own single email. At the SMTP boundary delivery is
at least once: if the server took the message but its answer was lost, the retried step
resends it with the same Message-ID, by which a mail system drops the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import restate
from restate.logging import RestateLoggingFilter

from handlers import mail
from handlers.access import QUERY, private, public
from handlers.settings import EmailSettings, UploadSettings
from schemas.catalogue import topic
from schemas.uploads import EmailReceipt, EmailRequest, MailOrder, UploadRequest, UploadResult
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, body_handler, ingest_object, sink_handler

log = logging.getLogger(__name__)
# Replay-aware: a handler resumed from its journal does not tell its story twice.
log.addFilter(RestateLoggingFilter())
TOPIC = topic("upload-requests")
RESULT_AS_EMAIL = "resultAsEmail"
URL_PROMISE = "url"
RECEIPTS = "receipts"
RECEIPTS_SERDE: TypedSerde[dict[str, EmailReceipt]] = TypedSerde(dict[str, EmailReceipt])
BUCKET_BASE = "https://s3-eu-central-1.amazonaws.com"  # the seed's (simulated) bucket host


def is_fast(settings: UploadSettings, upload_id: str) -> bool:
    return settings.is_fast(upload_id)


def eta(settings: UploadSettings, upload_id: str) -> timedelta:
    return settings.fast_upload_duration if is_fast(settings, upload_id) else settings.upload_duration


def bucket_url(number: int) -> str:
    return f"{BUCKET_BASE}/{number}/"


def address(email: str) -> str:
    """The dedup key of a recipient: addresses that differ only in case are one inbox."""
    return email.strip().lower()


def first_receipt(receipts: dict[str, EmailReceipt], email: str) -> EmailReceipt | None:
    """The receipt of an earlier email to this address, marked as answered again."""
    first = receipts.get(address(email))
    return None if first is None else first.model_copy(update={"alreadySent": True})


def new_message_id() -> str:
    return f"<upload-{uuid.uuid4().hex}@switchyard>"


def compose(settings: EmailSettings, receipt: EmailReceipt) -> EmailMessage:
    return mail.compose(
        settings, receipt.email, f"Your upload {receipt.uploadId} is ready",
        f"Your data was uploaded. It is available at:\n\n{receipt.url}\n", receipt.messageId,
    )


async def create_bucket(url: str) -> str:
    """Simulated: the bucket exists at once."""
    log.info("Creating bucket with URL %s", url)
    return url


async def upload_data(url: str, seconds: float) -> None:
    """Simulated: the upload takes its ETA."""
    log.info("Uploading data to target %s. ETA: %d ms", url, round(seconds * 1000))
    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Mailer:
    service: restate.VirtualObject
    send: Any  # the `send` handler, for ctx.object_call


def build_mailer(settings: EmailSettings) -> Mailer:
    mailer = restate.VirtualObject("UploadMailer")

    @mailer.handler("send", **private("DataUploadService mails the URL, once per address"))
    async def send(ctx: restate.ObjectContext, order: MailOrder) -> EmailReceipt:
        receipts = await ctx.get(RECEIPTS, serde=RECEIPTS_SERDE) or {}
        if (first := first_receipt(receipts, order.email)) is not None:
            log.info("The URL of upload %s already went to %s (%s): not sending again", ctx.key(), order.email,
                     first.messageId)
            return first
        message_id = await ctx.run_typed("message id", new_message_id, restate.RunOptions())
        receipt = EmailReceipt(uploadId=ctx.key(), email=order.email, url=order.url, messageId=message_id,
                               sentAt=round(await ctx.time() * 1000), reason=order.reason)
        log.info("Sending email to %s with url %s", order.email, order.url)
        await ctx.run_typed("send email", mail.send, restate.RunOptions(), settings=settings,
                            message=compose(settings, receipt))
        ctx.set(RECEIPTS, {**receipts, address(order.email): receipt}, serde=RECEIPTS_SERDE)
        return receipt

    @mailer.handler("getReceipts", kind="shared", output_serde=TypedSerde(list[EmailReceipt]), **QUERY)
    async def get_receipts(ctx: restate.ObjectSharedContext) -> list[EmailReceipt]:
        return list((await ctx.get(RECEIPTS, serde=RECEIPTS_SERDE) or {}).values())

    return Mailer(mailer, send)


def build(settings: UploadSettings, email: EmailSettings,
          runtime: SinkRuntime) -> list[restate.Workflow | restate.VirtualObject]:
    mailer = build_mailer(email)
    workflow = restate.Workflow("DataUploadService")
    front = ingest_object(TOPIC)

    @sink_handler(workflow.main, TOPIC, runtime, front=front.handler,
                  **public(f"Kafka sink of {TOPIC.name}; contract HTTP path"))
    async def run(ctx: restate.WorkflowContext, request: UploadRequest) -> UploadResult:
        upload_id = ctx.key()
        url = bucket_url(ctx.random().randint(100_000_000, 999_999_999))
        await ctx.run_typed("create bucket", create_bucket, restate.RunOptions(), url=url)
        planned = eta(settings, upload_id)
        upload = ctx.run_typed("upload data", upload_data, restate.RunOptions(), url=url,
                               seconds=planned.total_seconds())
        slow = False
        match await restate.select(upload=upload, timeout=ctx.sleep(settings.sync_timeout, name="sync timeout")):
            case ["timeout", _]:
                slow = True
                log.info("Slow upload %s... mail the link to %s later", upload_id, request.email)
                await upload
        await ctx.promise(URL_PROMISE, type_hint=str).resolve(url)
        emailed = None
        if slow:
            order = MailOrder(email=request.email, url=url, reason="slow")
            emailed = await ctx.object_call(mailer.send, key=upload_id, arg=order)
        log.info("Upload %s done: %s", upload_id, url)
        return UploadResult(uploadId=upload_id, url=url, etaMs=planned // timedelta(milliseconds=1), emailed=emailed)

    @body_handler(workflow.handler, RESULT_AS_EMAIL, EmailRequest,
                  **public("contract HTTP path: the URL by email"))
    async def result_as_email(ctx: restate.WorkflowSharedContext, request: EmailRequest) -> EmailReceipt:
        url = await ctx.promise(URL_PROMISE, type_hint=str).value()
        return await ctx.object_call(mailer.send, key=ctx.key(), arg=MailOrder(email=request.email, url=url,
                                                                              reason="asked"))

    return [workflow, front, mailer.service]
