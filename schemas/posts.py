"""social-media-posts: a user's posts, moderated before they reach the feed."""

from typing import Literal, Self

from pydantic import Field

from schemas.base import Payload, pad_to

PostStatus = Literal["PENDING", "DONE"]


class SocialMediaPost(Payload):
    content: str = Field(max_length=10_000)
    metadata: str = Field(max_length=1_000)

    @classmethod
    def sample(cls, n: int, size: int) -> Self:
        return cls(content=pad_to(f"post {n}", min(size, 10_000)), metadata="public")


class FeedEntry(Payload):
    postId: str
    content: str
    metadata: str
    status: PostStatus


class PostOutcome(Payload):
    """What processPost reports on social-media-posts-results."""

    postId: str
    status: PostStatus
