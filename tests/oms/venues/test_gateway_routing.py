"""Tests of the engine side of venue status (`oms.routing.VenueAvailability`, `VenueGuard`): an order routed to
a venue whose breaker is open, or forced open, is denied VENUE_UNAVAILABLE; forced closed wins over the gateway."""

from __future__ import annotations

from oms.events import BreakerMode, BreakerState
from oms.routing import VENUE_UNAVAILABLE, StaticRouter, VenueAvailability, VenueGuard
from tests.builders import new_order, venue_alert, venue_control, venue_status


def fold(*events) -> VenueAvailability:
    value = VenueAvailability()
    for event in events:
        value = value.fold(event)
    return value


def test_open_breakers_and_forced_opens_close_a_venue():
    assert fold(venue_status()).closed == {}
    assert fold(venue_status(breaker=BreakerState.OPEN, breaker_reason="3 failures")).closed == {"XNAS": "3 failures"}
    assert fold(venue_status(breaker=BreakerState.HALF_OPEN)).closed == {}
    assert fold(venue_control()).closed == {"XNAS": "forced open by ops: venue outage announced"}


def test_the_latest_record_wins_and_forced_closed_overrides_the_gateway():
    opened = venue_status(breaker=BreakerState.OPEN, breaker_reason="down")
    assert fold(opened, venue_status()).closed == {}
    assert fold(opened, venue_control(mode=BreakerMode.CLOSED)).closed == {}
    assert fold(opened, venue_control(mode=BreakerMode.CLOSED), venue_control(mode=BreakerMode.AUTO)).closed == {
        "XNAS": "down"}
    assert fold(opened, venue_alert()).closed == {"XNAS": "down"}  # an alert changes nothing


def test_the_guard_denies_orders_for_closed_venues_only():
    closed = {"XNAS": "3 failures"}
    guard = VenueGuard(StaticRouter("XNAS", venues=frozenset({"XNAS", "ARCX"})), lambda: closed)
    route = guard.route(new_order(venue="XNAS"))
    assert route.venue is None and route.denial.reason_code == VENUE_UNAVAILABLE
    assert route.denial.reason == "venue XNAS circuit open: 3 failures"
    assert guard.route(new_order(venue="ARCX")).venue == "ARCX"
    assert guard.route(new_order(venue="NOPE")).denial.reason_code == "UNKNOWN_VENUE"
    assert guard.catalogue == frozenset({"XNAS", "ARCX"})
    closed.clear()
    assert guard.route(new_order(venue="XNAS")).venue == "XNAS"
