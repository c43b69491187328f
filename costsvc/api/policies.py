"""Policy endpoints: where a household falls on a program's sliding scale, and a
program's payment plans for an amount.  Public, like the estimates; thin handlers
over ``costsvc.services.policies`` (bodies checked by ``costsvc.api.body``)."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, Request, post
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from costsvc.api.problems import BODY_STATUSES, problem_responses
from costsvc.services import policies as service


class PolicyController(Controller):
    path = "/v1"
    tags = ["policies"]

    @post("/sliding-scale", status_code=200, opt={"body_type": service.SlidingScaleRequest},
          summary="Where a household falls on a program's sliding scale",
          responses={200: ResponseSpec(service.SlidingScaleResult, generate_examples=False,
                                       description="The household's FPL %, its tier and the tier's discount or fee"),
                     **problem_responses(*BODY_STATUSES, 404, s404="The program is unknown.")})
    async def sliding_scale(self, request: Request,
                            data: JSONBody[service.SlidingScaleRequest]) -> service.SlidingScaleResult:
        """The program's own sliding scale when it has one (`policy: program`), else the
        service's default; the poverty guideline of the latest year not after `year`."""
        return service.sliding_scale(request.app.state.catalog.current, data, dt.date.today())

    @post("/payment-plans/quote", status_code=200, opt={"body_type": service.PaymentQuoteRequest},
          summary="A program's payment plans for an amount",
          responses={200: ResponseSpec(service.PaymentQuotes, generate_examples=False,
                                       description="One quote per term the program offers that meets its minimum"),
                     **problem_responses(*BODY_STATUSES, 404, s404="The program is unknown.",
                                         s422="Invalid fields, or a down payment below the program's minimum "
                                              "or above the amount.")})
    async def payment_plan_quote(self, request: Request,
                                 data: JSONBody[service.PaymentQuoteRequest]) -> service.PaymentQuotes:
        """Quoted on `amount − down_payment` with the program's terms (or the default
        3, 6 and 12 months at 0 %); a term whose monthly payment would fall below its
        minimum is left out."""
        return service.quote(request.app.state.catalog.current, data)
