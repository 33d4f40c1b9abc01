"""Posts for `social-media-posts`: from arguments (`switchyard post`), and the seed
walkthrough's own (the demo). Generated ones are the topic's sample records
(``SocialMediaPost.sample``)."""

from __future__ import annotations

from schemas.posts import SocialMediaPost

SEED_DEMO = [
    ("userid1", SocialMediaPost(content="Hi! This is my first post!", metadata="public")),
    ("userid2", SocialMediaPost(content="Hi! This is my first post!", metadata="public")),
    ("userid1", SocialMediaPost(content="Hi! This is my second post!", metadata="public")),
]


def post(user_id: str, content: str, metadata: str = "public") -> tuple[str, bytes]:
    return user_id, SocialMediaPost(content=content, metadata=metadata).model_dump_json().encode()
