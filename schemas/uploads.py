"""upload-requests: the sync-to-async data upload."""

from pydantic import Field

from schemas.base import Payload


class UploadRequest(Payload):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)
