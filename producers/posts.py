"""Posts for `social-media-posts`: from arguments or generated."""

from __future__ import annotations

import random
from collections.abc import Iterator

from schemas.posts import SocialMediaPost

SEED_DEMO = [
    ("userid1", SocialMediaPost(content="Hi! This is my first post!", metadata="public")),
    ("userid2", SocialMediaPost(content="Hi! This is my first post!", metadata="public")),
    ("userid1", SocialMediaPost(content="Hi! This is my second post!", metadata="public")),
]


def post(user_id: str, content: str, metadata: str = "public") -> tuple[str, bytes]:
    return user_id, SocialMediaPost(content=content, metadata=metadata).model_dump_json().encode()


def generate(count: int, users: int, seed: int) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    for n in range(count):
        user = f"user{rng.randrange(users)}"
        yield post(user, f"post {n} from {user}", rng.choice(["public", "friends"]))
