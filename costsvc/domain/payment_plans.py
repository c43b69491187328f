"""Payment-plan quotes (docs/API.md, "Payment plans").

Quoted on ``principal = patient_pays − down_payment`` for each term the program
offers.  APR 0: equal rounded payments, the rounding remainder in the last one.
APR > 0: the standard annuity payment rounded to the cent, interest rounded each
month on the running balance, and a last payment that clears the balance.
"""

from __future__ import annotations

from decimal import Decimal

from costsvc.domain.errors import DomainError
from costsvc.domain.model import PaymentPlanPolicy, PaymentPlanQuote
from costsvc.domain.money import ZERO, cents

_1200 = Decimal(1200)
_ONE = Decimal(1)


def quote(principal: Decimal, months: int, apr: Decimal, down_payment: Decimal = ZERO) -> PaymentPlanQuote:
    """One quote for ``principal`` (in cents, > 0) over ``months`` (≥ 1) at ``apr`` percent a year."""
    n = months
    if apr == 0:
        monthly = cents(principal / n)
        final = principal - (n - 1) * monthly
        interest = ZERO
    else:
        r = apr / _1200
        monthly = cents(principal * r / (_ONE - (_ONE + r) ** -n))
        balance = principal
        interest = ZERO
        for _ in range(n - 1):
            i = cents(balance * r)
            interest += i
            balance = balance + i - monthly
        last_interest = cents(balance * r)
        interest += last_interest
        final = balance + last_interest
    down = cents(down_payment)
    return PaymentPlanQuote(
        months=n,
        apr=apr,
        down_payment=down,
        monthly_payment=monthly,
        final_payment=final,
        total_interest=interest,
        total_paid=down + monthly * (n - 1) + final,
    )


def payment_plans(
    patient_pays: Decimal, down_payment: Decimal, policy: PaymentPlanPolicy
) -> list[PaymentPlanQuote]:
    """Quotes for every term of ``policy`` whose monthly payment meets that term's minimum.

    Empty when nothing is owed after the down payment.  A down payment below the
    program's ``min_down_payment`` is raised to it (each quote shows the down payment
    it assumes; ``POST /v1/payment-plans/quote`` refuses such a request instead, see
    ``check_down_payment``).  A term is also left out in the degenerate case where
    rounding would leave a last payment of zero or less (only possible with a minimum
    monthly payment of a few cents).
    """
    if down_payment < 0:
        raise DomainError("payment_plan.down_payment", "must not be negative")
    offers = policy.term_offers()
    if any(o.apr < 0 for o in offers):
        raise DomainError("payment_plan", "the program's payment-plan APR is negative")
    if policy.min_down_payment is not None and down_payment < policy.min_down_payment:
        down_payment = policy.min_down_payment
    principal = cents(patient_pays) - cents(down_payment)
    if principal <= 0:
        return []
    out = []
    for offer in offers:
        if offer.months < 1:
            continue
        q = quote(principal, offer.months, offer.apr, down_payment)
        if q.monthly_payment < offer.min_monthly or q.final_payment <= 0:
            continue
        out.append(q)
    return out


def check_down_payment(amount: Decimal, down_payment: Decimal, policy: PaymentPlanPolicy) -> None:
    """A quote request's down payment: at least the program's minimum, at most the amount."""
    if down_payment < 0:
        raise DomainError("down_payment", "must not be negative")
    minimum = policy.min_down_payment
    if minimum is not None and down_payment < minimum:
        raise DomainError("down_payment", f"is below the program's minimum down payment of {minimum}")
    if down_payment > amount:
        raise DomainError("down_payment", f"is more than the amount ({amount})")
