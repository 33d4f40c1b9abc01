"""upload-requests: the sync-to-async data upload."""

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Payload

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"


class UploadRequest(Payload):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(email="load@example.com")


class EmailRequest(Payload):
    """The body of `DataUploadService/{uploadId}/resultAsEmail`: where to send the URL."""

    email: str = Field(pattern=EMAIL_PATTERN, max_length=320)


class MailOrder(Payload):
    """What `UploadMailer/{uploadId}/send` is asked to mail."""

    email: str
    url: str
    reason: Literal["asked", "slow"]  # resultAsEmail was called / no caller waited long enough


class EmailReceipt(Payload):
    """The one email an upload's URL went out in to an address (`UploadMailer` state)."""

    uploadId: str
    email: str
    url: str
    messageId: str
    sentAt: int  # epoch ms, through the context
    reason: Literal["asked", "slow"]
    alreadySent: bool = False  # true when answering a second request for the same email


class UploadResult(Payload):
    """What `DataUploadService/{uploadId}/run` answers once the data is uploaded."""

    uploadId: str
    url: str
    etaMs: int  # how long the upload was planned to take (simulated)
    # The email the URL went out in when the upload outlasted the sync timeout, else null.
    emailed: EmailReceipt | None = None


class SubmittedUpload(BaseModel):
    """What Restate's ingress answers `POST /DataUploadService/{id}/run/send`. Restate's
    answer, not ours: fields it may add later are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    invocationId: str
    status: str  # "Accepted", or "PreviouslyAccepted": a workflow runs once per id
