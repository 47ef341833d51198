"""Tests of `oms.routing`: the venue catalogue, the router's answer and the order it makes.

This module owns the evidence that a router answers only venues of its
catalogue, that an unknown venue (named by the command, or configured for an
instrument) is refused with UNKNOWN_VENUE and `decide_new` turns that refusal
into an `OrderDenied` on a REJECTED order with no venue request, that the
catalogue fails closed (never empty, never "any venue"), and that
`StaticRouter.parse` keeps its spec. Pure: no Kafka, no clock.
"""

from __future__ import annotations


import pytest

from oms.domain.denial import Denial
from oms.domain.orders import decide_new, fold
from oms.domain.route import Route
from oms.events import OrderAccepted, OrderDenied, OrderRouted, OrderStatus, VenueRequest
from oms.routing import UNKNOWN_VENUE, StaticRouter, parse_venues
from tests.builders import T0, new_order


def test_default_catalogue_is_the_default_venue_and_the_routed_venues() -> None:
    router = StaticRouter.parse("AAPL=SIM-A,MSFT=SIM-B", "SIM")
    assert router.catalogue == frozenset({"SIM", "SIM-A", "SIM-B"})
    assert StaticRouter().catalogue == frozenset({"SIM"})


def test_parse_keeps_the_instrument_map_and_the_default() -> None:
    router = StaticRouter.parse(" AAPL = SIM-A , MSFT=SIM-B,", default_venue="SIM")
    assert router.by_instrument == {"AAPL": "SIM-A", "MSFT": "SIM-B"}
    assert router.route(new_order(instrument="AAPL")) == Route("SIM-A")
    assert router.route(new_order(instrument="TSLA")) == Route("SIM")


def test_command_naming_a_venue_of_the_catalogue_goes_there() -> None:
    router = StaticRouter.parse("AAPL=SIM-A", "SIM", venues="SIM,SIM-A,SIM-C")
    assert router.route(new_order(venue="SIM-C")) == Route("SIM-C")


def test_command_naming_an_unknown_venue_is_refused_with_unknown_venue() -> None:
    route = StaticRouter.parse("AAPL=SIM-A", "SIM").route(new_order(venue="NOWHERE"))
    assert route.venue is None and route.denial is not None
    assert route.denial.reason_code == UNKNOWN_VENUE
    assert "NOWHERE" in route.denial.reason and "SIM-A" in route.denial.reason


def test_unknown_venue_makes_a_rejected_order_with_no_venue_request() -> None:
    router = StaticRouter()
    cmd = new_order(venue="XNOWHERE")
    events = decide_new(cmd, None, router.route(cmd), T0)
    accepted, denied = events
    assert isinstance(accepted, OrderAccepted) and isinstance(denied, OrderDenied)
    assert denied.seq == 2 and denied.reason_code == UNKNOWN_VENUE and "XNOWHERE" in denied.reason
    assert not any(isinstance(e, (OrderRouted, VenueRequest)) for e in events)
    (order,) = fold(events).values()
    assert order.status is OrderStatus.REJECTED and order.venue is None


def test_known_venue_is_routed_and_sent() -> None:
    router = StaticRouter.parse("AAPL=SIM-A", "SIM")
    cmd = new_order(instrument="AAPL")
    _, routed, request = decide_new(cmd, None, router.route(cmd), T0)
    assert isinstance(routed, OrderRouted) and routed.venue == "SIM-A"
    assert isinstance(request, VenueRequest) and request.venue == "SIM-A"


def test_unknown_venue_and_a_risk_denial_are_one_denial_with_the_venue_first() -> None:
    cmd = new_order(venue="XNOWHERE")
    risk = Denial("MAX_ORDER_QTY", "MAX_ORDER_QTY: max_order_qty=10 attempted=100")
    _, denied = decide_new(cmd, None, StaticRouter().route(cmd), T0, risk)
    assert denied.reason_code == UNKNOWN_VENUE
    assert "XNOWHERE" in denied.reason and "MAX_ORDER_QTY" in denied.reason


def test_a_bare_venue_name_still_routes_where_the_command_names_none() -> None:
    _, routed, _ = decide_new(new_order(), None, "XNYS", T0)
    assert routed.venue == "XNYS"


@pytest.mark.parametrize("spec", ["", " , ", []])
def test_an_empty_catalogue_is_refused_not_any_venue(spec) -> None:
    with pytest.raises(ValueError, match="empty"):
        parse_venues(spec)
    with pytest.raises(ValueError, match="empty"):
        StaticRouter(venues=frozenset(spec) if not isinstance(spec, str) else frozenset())


def test_a_configured_catalogue_must_hold_the_routed_venues() -> None:
    with pytest.raises(ValueError, match="SIM-B"):
        StaticRouter.parse("MSFT=SIM-B", "SIM", venues="SIM,SIM-A")


@pytest.mark.parametrize("spec", ["SIM A", "SIM,\x00X", "-SIM"])
def test_a_venue_name_the_wire_refuses_is_not_catalogued(spec) -> None:
    with pytest.raises(ValueError, match="not a venue name"):
        parse_venues(spec)


def test_malformed_route_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="INSTRUMENT=VENUE"):
        StaticRouter.parse("AAPL")


def test_route_is_a_venue_or_a_denial_exactly_one() -> None:
    with pytest.raises(ValueError):
        Route()
    with pytest.raises(ValueError):
        Route("SIM", Denial(UNKNOWN_VENUE, "x"))
    assert Route(denial=Denial(UNKNOWN_VENUE, "x")).venue is None


def test_the_engine_step_denies_an_order_for_an_unknown_venue_with_its_router_call_unchanged() -> None:
    from oms.domain.engine import step

    outcome = step(lambda _: None, new_order(venue="XNOWHERE"), StaticRouter.parse("AAPL=SIM-A", "SIM"), T0)
    assert [type(e).__name__ for e in outcome.journal] == ["OrderAccepted", "OrderDenied"]
    assert outcome.journal[1].reason_code == UNKNOWN_VENUE and outcome.requests == []
    (order,) = outcome.orders.values()
    assert order.status is OrderStatus.REJECTED
