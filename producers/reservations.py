"""`switchyard reserve`: the seed's durable-RPC client (MyClient) as a command.

    switchyard reserve product1 res-1 res-2 res-1

Each reservation is a durable RPC over HTTP, `POST /ProductService/{productId}/reserve`,
with the reservation id as the `idempotency-key` header, as the seed's client does:
Restate registers the request, runs it to completion once, and answers a repeat with the
first answer. The body carries the same id, so a reservation made here and one made
through `product-reservations` with that id are the same reservation.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from schemas.reservations import ReservationRequest


class ReservationFailed(RuntimeError):
    pass


def reserve(http: httpx.Client, product_id: str, reservation_id: str) -> bool:
    """True if the product is (now or already) reserved under ``reservation_id``."""
    body = ReservationRequest(reservationId=reservation_id).model_dump_json()
    response = http.post(
        f"/ProductService/{quote(product_id, safe='')}/reserve",
        content=body,
        headers={"idempotency-key": reservation_id, "content-type": "application/json"},
    )
    if response.status_code != 200:
        raise ReservationFailed(f"{product_id}/{reservation_id}: HTTP {response.status_code}: {response.text}")
    return bool(response.json())
