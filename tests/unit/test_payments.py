import itertools

import pytest
import restate

from handlers.payments import on_cancel, on_make, positive, withdrawn
from schemas.payments import PaymentStatus


def test_make_withdraws_only_for_a_new_token() -> None:
    assert on_make("NEW") == "withdraw"
    assert on_make("COMPLETED_SUCCESSFULLY") == "refuse-completed"
    assert on_make("CANCELLED") == "refuse-cancelled"


def test_cancel_blocks_a_new_token_refunds_a_completed_one_and_is_idempotent() -> None:
    assert on_cancel("NEW") == "mark-cancelled"
    assert on_cancel("COMPLETED_SUCCESSFULLY") == "refund"
    assert on_cancel("CANCELLED") == "already-cancelled"


def replay(commands: tuple[str, ...]) -> tuple[PaymentStatus, int, int]:
    """The token's status, withdrawals and refunds after `commands`, by the decisions alone."""
    status: PaymentStatus = "NEW"
    withdrawals = refunds = 0
    for command in commands:
        if command == "make" and on_make(status) == "withdraw":
            status, withdrawals = "COMPLETED_SUCCESSFULLY", withdrawals + 1
        elif command == "cancel":
            decision = on_cancel(status)
            if decision == "refund":
                refunds += 1
            status = "CANCELLED"
    return status, withdrawals, refunds


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5])
def test_any_order_and_number_of_commands_leaves_the_account_consistent(length: int) -> None:
    for commands in itertools.product(("make", "cancel"), repeat=length):
        status, withdrawals, refunds = replay(commands)
        assert withdrawals <= 1, commands
        assert refunds <= withdrawals, commands
        if commands[0] == "cancel":
            assert withdrawals == 0, commands  # a cancelled token never withdraws later
        if "cancel" in commands:
            assert (status, withdrawals) == ("CANCELLED", refunds), commands
        else:
            assert (status, withdrawals) == ("COMPLETED_SUCCESSFULLY", 1), commands


def test_a_withdrawal_needs_the_funds() -> None:
    assert withdrawn(500, 200) == 300
    assert withdrawn(500, 500) == 0
    assert withdrawn(500, 501) is None


@pytest.mark.parametrize("amount", [0, -1])
def test_amounts_must_be_positive(amount: int) -> None:
    with pytest.raises(restate.TerminalError, match="greater than 0") as err:
        positive(amount)
    assert err.value.status_code == 400
    assert positive(1) == 1
