"""Stripe's test cards in FakeStripe: what ``tok_visa``, ``pm_card_chargeDeclined``... stand for
(brand, last four digits, and how a charge on them ends)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    decline: tuple[str, str, str] | None = None  # (code, decline_code, message)
    authentication: bool = False


VISA = Card("visa", "4242")
DECLINED = ("card_declined", "generic_decline", "Your card was declined.")
CARDS: dict[str, Card] = {
    "visa": VISA,
    "visa_debit": Card("visa", "5556", "debit"),
    "mastercard": Card("mastercard", "4444"),
    "amex": Card("amex", "8431"),
    "chargeDeclined": Card("visa", "0002", decline=DECLINED),
    "chargeDeclinedInsufficientFunds": Card(
        "visa",
        "9995",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "visa_chargeDeclinedInsufficientFunds": Card(
        "visa",
        "9995",
        decline=("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ),
    "chargeDeclinedExpiredCard": Card(
        "visa", "0069", decline=("expired_card", "expired_card", "Your card has expired.")
    ),
    "authenticationRequired": Card("visa", "3184", authentication=True),
    "threeDSecure2Required": Card("visa", "3220", authentication=True),
}


def test_card(reference: str) -> Card | None:
    """The test card a ``tok_...``/``pm_card_...`` alias names; None when it names none."""
    for prefix in ("tok_", "pm_card_"):
        if reference.startswith(prefix):
            return CARDS.get(reference.removeprefix(prefix))
    return None
