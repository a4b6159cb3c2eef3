"""The shop's outside world: a payment gateway and an outbox of emails (in memory here)."""

from __future__ import annotations

from dataclasses import dataclass, field


class PaymentDeclined(Exception):
    pass


@dataclass
class Payments:
    """Charges cards; fails with ConnectionError ``unavailable`` times first."""

    unavailable: int = 0
    charges: dict[str, int] = field(default_factory=dict)  # idempotency key -> cents

    def charge(self, idempotency_key: str, cents: int) -> dict[str, object]:
        if self.unavailable:
            self.unavailable -= 1
            raise ConnectionError("payment gateway unavailable")
        self.charges.setdefault(idempotency_key, cents)
        return {"charge_id": f"ch_{len(self.charges)}", "cents": cents}


@dataclass
class Outbox:
    sent: list[tuple[str, str]] = field(default_factory=list)  # (to, subject)

    def send(self, to: str, subject: str) -> None:
        self.sent.append((to, subject))


payments = Payments()
outbox = Outbox()
