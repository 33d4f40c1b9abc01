"""Every catalogue topic has a valid example for the bad-input suite and a handler.

The second test fails while an example's handler is still being written: the bad-input,
rewind and re-produce suites only cover topics whose handler is registered, and this is
where a missing one shows (never as a skip).
"""

from __future__ import annotations

import pytest

from schemas.catalogue import TOPICS, Topic
from tests.examples import EXAMPLES, example, registered_targets


def test_examples_cover_exactly_the_catalogue() -> None:
    assert set(EXAMPLES) == {t.name for t in TOPICS}


@pytest.mark.parametrize("t", TOPICS, ids=lambda t: t.name)
def test_each_example_fits_its_topic(t: Topic) -> None:
    t.parse(example(t).encoded())


def test_every_catalogue_topic_has_a_registered_handler() -> None:
    targets = registered_targets()
    missing = [f"{t.name} -> {t.target}" for t in TOPICS if t.target not in targets]
    assert not missing, f"topics without a registered handler: {', '.join(missing)}"
