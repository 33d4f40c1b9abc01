"""UserFeed: a user's posts, fed by `social-media-posts`, moderated in order per user.

Each post is created (its id journaled, so a retry recovers the same post), then content
moderation is polled with durable sleeps; the feed entry turns DONE when moderation
finishes. Different users run in parallel; one user's posts wait their turn.
"""

from __future__ import annotations

import logging
from random import Random

import restate

from handlers.access import QUERY, public
from handlers.settings import FeedSettings
from schemas.catalogue import topic
from schemas.posts import FeedEntry, PostOutcome, PostStatus, SocialMediaPost
from switchyard.core.serde import TypedSerde
from switchyard.core.sink import SinkRuntime, sink_handler

log = logging.getLogger(__name__)
TOPIC = topic("social-media-posts")
FEED = "feed"
FEED_SERDE: TypedSerde[list[FeedEntry]] = TypedSerde(list[FeedEntry])


def moderation_status(roll: float, pending_probability: float) -> PostStatus:
    """The simulated moderation service's answer for one poll."""
    return "PENDING" if roll < pending_probability else "DONE"


def audit(user_id: str) -> None:
    log.info("Auditing a post of user %s", user_id)


def with_status(feed: list[FeedEntry], post_id: str, status: PostStatus) -> list[FeedEntry]:
    return [e.model_copy(update={"status": status}) if e.postId == post_id else e for e in feed]


def build(settings: FeedSettings, runtime: SinkRuntime) -> restate.VirtualObject:
    user_feed = restate.VirtualObject("UserFeed")

    async def load_feed(ctx: restate.ObjectSharedContext | restate.ObjectContext) -> list[FeedEntry]:
        stored = await ctx.get(FEED, serde=FEED_SERDE)
        return stored or []

    @sink_handler(user_feed.handler, TOPIC, runtime, **public(f"Kafka sink of {TOPIC.name}"))
    async def process_post(ctx: restate.ObjectContext, post: SocialMediaPost) -> PostOutcome:
        user_id = ctx.key()
        if settings.audit_step:
            await ctx.run_typed("audit post", audit, user_id=user_id)
        post_id = str(ctx.uuid())

        def create_post() -> str:
            log.info("Creating post %s for user %s", post_id, user_id)
            return post_id

        await ctx.run_typed("create post", create_post)
        entry = FeedEntry(postId=post_id, content=post.content, metadata=post.metadata, status="PENDING")
        ctx.set(FEED, [*await load_feed(ctx), entry], serde=FEED_SERDE)

        rng: Random = ctx.random()
        interval = settings.moderation_poll_interval
        while True:
            roll = rng.random()

            def check(roll: float = roll) -> PostStatus:
                return moderation_status(roll, settings.moderation_pending_probability)

            if await ctx.run_typed("moderation status", check) == "DONE":
                break
            log.info(
                "Content moderation for post %s is still pending... Will check again in %s",
                post_id, interval,
            )
            await ctx.sleep(interval)

        log.info("Content moderation for post %s is done", post_id)
        log.info("Updating user feed for user %s with post %s", user_id, post_id)
        ctx.set(FEED, with_status(await load_feed(ctx), post_id, "DONE"), serde=FEED_SERDE)
        return PostOutcome(postId=post_id, status="DONE")

    @user_feed.handler("getFeed", kind="shared", output_serde=FEED_SERDE, **QUERY)
    async def get_feed(ctx: restate.ObjectSharedContext) -> list[FeedEntry]:
        return await load_feed(ctx)

    return user_feed
