import pytest

from handlers.deposits import KEPT_NOTICES, charge_accepted, lowered, notice, restored, with_notice
from handlers.settings import DepositSettings
from schemas.deposits import DepositRequest, Notice

REQUEST = DepositRequest(walletId="w1", userId="u1", email="ada@example.com", amount=100, paymentMethod="card")


@pytest.mark.parametrize(
    ("remaining", "amount", "after"),
    [(10_000, 100, 9_900), (10_000, 10_000, 0), (10_000, 10_001, None), (0, 1, None), (50, 50, 0), (50, 0, None)],
)
def test_a_deposit_lowers_the_limit_only_if_it_fits(remaining: int, amount: int, after: int | None) -> None:
    assert lowered(remaining, amount) == after


def test_a_restore_gives_the_amount_back_up_to_the_limit() -> None:
    assert restored(0, 10_000, 10_000) == 10_000
    assert restored(9_000, 500, 10_000) == 9_500
    assert restored(9_000, 5_000, 10_000) == 10_000  # the limit was lowered since the deposit


def test_declined_payment_methods_come_from_the_settings() -> None:
    settings = DepositSettings(declined_payment_methods=["bad-card"])
    assert charge_accepted("creditCard", settings)
    assert not charge_accepted("bad-card", settings)
    assert not charge_accepted("declined-card", DepositSettings())


def test_notices_name_the_deposit_and_keep_the_latest() -> None:
    first = notice("success", "dep-1", REQUEST, "credited")
    assert (first.kind, first.depositId, first.userId, first.walletId, first.amount) == (
        "success", "dep-1", "u1", "w1", 100)
    notices: list[Notice] = []
    for n in range(KEPT_NOTICES + 3):
        notices = with_notice(notices, notice("failure", f"dep-{n}", REQUEST, "refused"))
    assert len(notices) == KEPT_NOTICES
    assert notices[-1].depositId == f"dep-{KEPT_NOTICES + 2}"
    assert notices[0].depositId == "dep-3"
