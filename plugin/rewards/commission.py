"""A commission: a percentage of the friend's order, capped per reward, paid as store credit.

The amount it is taken from is the order's **subtotal net of discounts, without shipping and
tax**: Saleor's `Order.subtotal.net` (the sum of the order lines after every discount, vouchers
and promotions included — Saleor propagates an entire-order voucher onto the lines — without
shipping, and `net` is before tax). A gift card the friend pays with is a payment, not a
discount, so it does not lower the amount. See docs/REWARDS.md.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from plugin.program.validation import currency_decimals


def commission_amount(rate: Decimal, cap: Decimal, base: Decimal, currency: str) -> Decimal:
    """`rate` percent of `base`, rounded half-up to the currency's minor unit, at most `cap`;
    0 when the base is not positive."""
    if base <= 0 or rate <= 0:
        return Decimal(0)
    unit = Decimal(1).scaleb(-currency_decimals(currency))
    amount = (base * rate / 100).quantize(unit, rounding=ROUND_HALF_UP)
    return min(amount, cap)
