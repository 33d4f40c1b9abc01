"""social-media-posts: a user's posts, moderated before they reach the feed."""

from typing import Literal

from pydantic import Field

from schemas.base import Payload

PostStatus = Literal["PENDING", "DONE"]


class SocialMediaPost(Payload):
    content: str = Field(max_length=10_000)
    metadata: str = Field(max_length=1_000)


class FeedEntry(Payload):
    postId: str
    content: str
    metadata: str
    status: PostStatus


class PostOutcome(Payload):
    """What processPost reports on social-media-posts-results."""

    postId: str
    status: PostStatus
