"""`switchyard upload`: the seed's UploadClient as a command.

    switchyard upload someone21                      # mails someone21@example.com if slow
    switchyard upload upload-7 --email ada@example.com

It starts the upload workflow, `POST /DataUploadService/{id}/run/send` with `{"email"}`
(a workflow runs once per id: the same id again is "PreviouslyAccepted" and joins the
first run), then waits for the URL up to the sync timeout (`UploadSettings.sync_timeout`)
by attaching to the invocation. A fast upload prints its URL; for a slow one it gives up
waiting and asks for the URL by email, `POST /DataUploadService/{id}/resultAsEmail/send`,
as the seed does. The workflow mails a slow upload's URL to that address by itself too;
the two requests still make one email (handlers/uploads.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import ValidationError

from schemas.catalogue import describe_error, topic
from schemas.uploads import EmailRequest, SubmittedUpload, UploadRequest, UploadResult

TOPIC = topic("upload-requests")
RESULT_AS_EMAIL = "resultAsEmail"  # handlers/uploads.py


class UploadFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class UploadOutcome:
    """What the client saw: the URL within the sync timeout, or an email asked for."""

    upload_id: str
    submitted: SubmittedUpload
    result: UploadResult | None  # None: slow, the URL comes by email
    email: str
    asked: SubmittedUpload | None = None  # the resultAsEmail send, when slow


def default_email(upload_id: str) -> str:
    """The seed's client mails `<id>@example.com`."""
    return f"{upload_id}@example.com"


def request_of(upload_id: str, email: str | None) -> UploadRequest:
    try:
        return UploadRequest(email=email or default_email(upload_id))
    except ValidationError as exc:
        raise ValueError(describe_error(exc)) from None


def _post(http: httpx.Client, path: str, body: bytes) -> httpx.Response:
    response = http.post(path, content=body, headers={"content-type": "application/json"})
    if response.status_code not in (200, 202):
        raise UploadFailed(f"POST {path}: HTTP {response.status_code}: {response.text}")
    return response


def submit(http: httpx.Client, upload_id: str, request: UploadRequest) -> SubmittedUpload:
    """Starts (or joins) the workflow of ``upload_id``; Restate answers at once."""
    response = _post(http, f"/{TOPIC.service}/{upload_id}/{TOPIC.handler}/send", request.model_dump_json().encode())
    return SubmittedUpload.model_validate(response.json())


def wait_for_url(http: httpx.Client, invocation_id: str, timeout: float) -> UploadResult | None:
    """The workflow's result, or None if it does not come within ``timeout`` seconds."""
    try:
        response = http.get(f"/restate/invocation/{invocation_id}/attach", timeout=timeout)
    except httpx.TimeoutException:
        return None
    if response.status_code != 200:
        raise UploadFailed(f"{invocation_id}: HTTP {response.status_code}: {response.text}")
    return UploadResult.model_validate_json(response.content)


def ask_for_email(http: httpx.Client, upload_id: str, email: str) -> SubmittedUpload:
    """One-way: the workflow mails the URL once the upload is done."""
    body = EmailRequest(email=email).model_dump_json().encode()
    response = _post(http, f"/{TOPIC.service}/{upload_id}/{RESULT_AS_EMAIL}/send", body)
    return SubmittedUpload.model_validate(response.json())


def upload(http: httpx.Client, upload_id: str, request: UploadRequest, sync_timeout: float) -> UploadOutcome:
    submitted = submit(http, upload_id, request)
    result = wait_for_url(http, submitted.invocationId, sync_timeout)
    asked = ask_for_email(http, upload_id, request.email) if result is None else None
    return UploadOutcome(upload_id, submitted, result, request.email, asked)


def describe(outcome: UploadOutcome) -> str:
    """The seed client's two log lines."""
    if outcome.result is not None:
        return f"Fast upload... URL was {outcome.result.url}"
    return f"Slow upload... Mail the link later (to {outcome.email})"
