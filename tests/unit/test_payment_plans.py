"""Payment-plan quotes (docs/API.md, "Payment plans"), hand-computed."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsvc.domain.errors import DomainError
from costsvc.domain.model import PaymentPlanPolicy
from costsvc.domain.payment_plans import payment_plans, quote

DEFAULT = PaymentPlanPolicy()  # terms 3, 6, 12; APR 0; minimum 25.00


def by_months(quotes):
    return {q.months: q for q in quotes}


def test_apr_zero_remainder_in_final_payment():
    q = by_months(payment_plans(D("1000.00"), D(0), DEFAULT))
    # n=3:  1000/3  = 333.333… -> 333.33; last = 1000 − 2×333.33  = 333.34
    assert (q[3].monthly_payment, q[3].final_payment) == (D("333.33"), D("333.34"))
    # n=6:  1000/6  = 166.666… -> 166.67; last = 1000 − 5×166.67  = 166.65
    assert (q[6].monthly_payment, q[6].final_payment) == (D("166.67"), D("166.65"))
    # n=12: 1000/12 = 83.333…  -> 83.33;  last = 1000 − 11×83.33  = 83.37
    assert (q[12].monthly_payment, q[12].final_payment) == (D("83.33"), D("83.37"))
    for quote_ in q.values():
        assert quote_.total_interest == D("0.00")
        assert quote_.total_paid == D("1000.00")
        assert quote_.down_payment == D("0.00")
        assert str(quote_.total_paid) == "1000.00"


def test_apr_zero_half_cent_rounds_up():
    # 0.75 / 6 = 0.125 -> 0.13 (half up; banker's rounding would give 0.12)
    # last = 0.75 − 5×0.13 = 0.10
    q = quote(D("0.75"), 6, D(0))
    assert q.monthly_payment == D("0.13")
    assert q.final_payment == D("0.10")


def test_apr_positive_matches_hand_amortization():
    # P = 1000.00, 12 months, APR 9.99 -> r = 9.99/1200 = 0.008325
    # monthly = round(1000·r / (1 − 1.008325^−12)) = round(87.9112…) = 87.91
    # month  balance   interest=round(bal·r)  new balance = bal + int − 87.91
    #  1     1000.00   8.33 (8.325 half up)   920.42
    #  2      920.42   7.66                   840.17
    #  3      840.17   6.99                   759.25
    #  4      759.25   6.32                   677.66
    #  5      677.66   5.64                   595.39
    #  6      595.39   4.96                   512.44
    #  7      512.44   4.27                   428.80
    #  8      428.80   3.57                   344.46
    #  9      344.46   2.87                   259.42
    # 10      259.42   2.16                   173.67
    # 11      173.67   1.45                    87.21
    # 12       87.21   0.73  -> final payment 87.21 + 0.73 = 87.94
    # total interest = 54.95; total paid = 11×87.91 + 87.94 = 1054.95
    q = quote(D("1000.00"), 12, D("9.99"))
    assert q.monthly_payment == D("87.91")
    assert q.final_payment == D("87.94")
    assert q.total_interest == D("54.95")
    assert q.total_paid == D("1054.95")
    assert q.apr == D("9.99")


def test_terms_below_minimum_are_left_out():
    # 200.00: n=3 -> 66.67, n=6 -> 33.33, n=12 -> 16.67 < 25.00 (dropped)
    q = payment_plans(D("200.00"), D(0), DEFAULT)
    assert [x.months for x in q] == [3, 6]
    # exactly the minimum is kept: 75.00 / 3 = 25.00
    assert [x.months for x in payment_plans(D("75.00"), D(0), DEFAULT)] == [3]
    assert payment_plans(D("74.97"), D(0), DEFAULT) == []  # 24.99 a month


def test_down_payment():
    # owes 1000.00, pays 100.00 down: 900.00 over 3 -> 300.00 ×3; total paid 100 + 900 = 1000.00
    q = by_months(payment_plans(D("1000.00"), D(100), DEFAULT))
    assert q[3].down_payment == D("100.00")
    assert (q[3].monthly_payment, q[3].final_payment) == (D("300.00"), D("300.00"))
    assert q[3].total_paid == D("1000.00")
    # with interest: total paid = down + payments
    pol = PaymentPlanPolicy(terms=(12,), apr=D("9.99"))
    (qi,) = payment_plans(D("1100.00"), D("100.00"), pol)
    assert qi.total_paid == D("100.00") + D("1054.95")  # the 1000.00 amortization above


def test_nothing_owed_gives_empty_list():
    assert payment_plans(D("0.00"), D(0), DEFAULT) == []
    assert payment_plans(D("500.00"), D("500.00"), DEFAULT) == []
    assert payment_plans(D("500.00"), D("600.00"), DEFAULT) == []


def test_negative_down_payment_is_an_error():
    with pytest.raises(DomainError) as exc:
        payment_plans(D("500.00"), D(-1), DEFAULT)
    assert exc.value.field == "payment_plan.down_payment"


@settings(max_examples=200, deadline=None)
@given(
    owed=st.integers(1, 5_000_000).map(lambda c: D(c) / 100),
    down=st.integers(0, 100_000).map(lambda c: D(c) / 100),
    apr=st.sampled_from([D(0), D("4.5"), D("9.99"), D(18), D("29.99")]),
    terms=st.lists(st.integers(1, 60), min_size=1, max_size=4),
)
def test_quotes_add_up(owed, down, apr, terms):
    pol = PaymentPlanPolicy(terms=tuple(terms), apr=apr)
    for q in payment_plans(owed, down, pol):
        principal = owed.quantize(D("0.01")) - down.quantize(D("0.01"))
        assert q.monthly_payment >= pol.min_monthly
        assert q.final_payment > 0
        assert q.total_paid == q.down_payment + q.monthly_payment * (q.months - 1) + q.final_payment
        assert q.total_paid == q.down_payment + principal + q.total_interest
        assert q.total_interest >= 0
        if apr == 0:
            assert q.total_interest == 0
            assert abs(q.final_payment - q.monthly_payment) <= D("0.01") * q.months
        for v in (q.monthly_payment, q.final_payment, q.total_interest, q.total_paid, q.down_payment):
            assert v.as_tuple().exponent == -2


def test_each_offered_term_has_its_own_apr_and_minimum():
    from costsvc.domain.model import PaymentTerm

    pol = PaymentPlanPolicy(offers=(PaymentTerm(6, D(0), D("25.00")), PaymentTerm(12, D("9.99"), D("100.00"))))
    q = by_months(payment_plans(D("1200.00"), D(0), pol))
    # 6 months at 0 %: 200.00 each; 12 months at 9.99 % would be about 105.50 a month: kept (>= 100.00)
    assert q[6].monthly_payment == D("200.00") and q[6].total_interest == D(0)
    assert q[12].apr == D("9.99") and q[12].total_interest > 0
    assert [x.months for x in payment_plans(D("1000.00"), D(0), pol)] == [6]  # 12 months: below its 100.00


def test_a_down_payment_below_the_minimum_is_raised_to_it_in_estimates():
    from costsvc.domain.payment_plans import check_down_payment

    pol = PaymentPlanPolicy(terms=(3,), min_down_payment=D("100.00"))
    (q,) = payment_plans(D("400.00"), D(0), pol)
    assert q.down_payment == D("100.00") and q.monthly_payment == D("100.00") and q.total_paid == D("400.00")
    with pytest.raises(DomainError) as caught:
        check_down_payment(D("400.00"), D("99.99"), pol)
    assert caught.value.field == "down_payment" and "100.00" in caught.value.message
    with pytest.raises(DomainError):
        check_down_payment(D("400.00"), D("400.01"), pol)
    check_down_payment(D("400.00"), D("400.00"), pol)  # everything down: nothing to finance, no error
