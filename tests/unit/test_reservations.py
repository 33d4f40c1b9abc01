import json

import pytest

from handlers.reservations import answer, default_body
from switchyard.cli.main import parser


@pytest.mark.parametrize(
    ("holder", "asked", "granted"),
    [(None, "r1", True), ("r1", "r1", True), ("r1", "r2", False)],
)
def test_a_product_answers_its_holder_and_nobody_else(holder: str | None, asked: str, granted: bool) -> None:
    assert answer(holder, asked) is granted


def test_an_empty_http_body_reserves_under_the_invocation_id() -> None:
    assert json.loads(default_body(b"", "inv_1abc")) == {"reservationId": "inv_1abc"}
    assert json.loads(default_body(b"  \n", "inv_1abc")) == {"reservationId": "inv_1abc"}


def test_a_body_is_left_as_sent() -> None:
    # Even a bad one: validation (and its 400) comes after.
    assert default_body(b'{"reservationId": "r1"}', "inv") == b'{"reservationId": "r1"}'
    assert default_body(b"{}", "inv") == b"{}"


def test_the_reserve_command_takes_a_product_and_reservations() -> None:
    args = parser().parse_args(["reserve", "product1", "r1", "r2", "--ingress", "http://127.0.0.1:1"])
    assert (args.product_id, args.reservation_ids, args.ingress) == ("product1", ["r1", "r2"], "http://127.0.0.1:1")
    with pytest.raises(SystemExit):
        parser().parse_args(["reserve", "product1"])
