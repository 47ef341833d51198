"""The admission table of the topic catalogue: each topic admits only its own event types."""

from __future__ import annotations

import pytest

from oms.events import EVENT_TYPES, JOURNAL_EVENTS, ExecutionReport, NewOrder, RiskControl
from streams.topics import BY_NAME, CATALOGUE, Topics, admitted, admitting
from tests.builders import execution_report, new_order, risk_control, sample_events

EXPECTED = {
    "commands": {"NewOrder", "AmendOrder", "CancelOrder", "OrderStatusRequest", "OrderMassStatusRequest",
                 "NewTradingDay"},
    "exec.reports": {"ExecutionReport"},
    "venue.requests": {"VenueRequest"},
    "marketdata": {"Quote", "Trade"},
    "order.events": {cls.__name__ for cls in JOURNAL_EVENTS},
    "fills": {"Fill"},
    "orders": {"OrderView"},
    "positions": {"Position"},
    "risk.controls": {"RiskControl"},
    "deadletter": {"DeadLetter"},
    "engine.state": set(),
    "schemas": set(),
    "venue.status": {"VenueStatus", "VenueControl", "VenueAlert", "VenueReconcileRequest"},
    "venue.reconciliations": {"VenueReconciliation"},
}


def test_every_topic_of_the_catalogue_names_what_it_admits():
    assert {spec.name for spec in CATALOGUE} == set(EXPECTED)
    for spec in CATALOGUE:
        assert {cls.__name__ for cls in spec.admits} == EXPECTED[spec.name], spec.name


@pytest.mark.parametrize("topic", sorted(EXPECTED))
def test_an_event_is_admitted_exactly_on_its_own_topics(topic):
    for event in sample_events():
        reason = admitted(topic, event)
        if type(event).__name__ in EXPECTED[topic]:
            assert reason is None, (topic, event)
            assert admitted(topic, event.schema_name) is None
        else:
            assert reason is not None and reason.startswith(f"{type(event).__name__} is not admitted on {topic}")
            assert admitted(topic, event.schema_name) == reason


def test_the_reason_says_what_the_topic_admits():
    assert admitted("commands", execution_report()) == (
        "ExecutionReport is not admitted on commands (it admits NewOrder, AmendOrder, CancelOrder, "
        "OrderStatusRequest, OrderMassStatusRequest, NewTradingDay)")
    assert admitted("exec.reports", new_order()) == "NewOrder is not admitted on exec.reports (it admits ExecutionReport)"
    assert admitted("order.events", new_order()) == "NewOrder is not admitted on order.events (it admits journal events only)"
    assert admitted("engine.state", new_order()) == "NewOrder is not admitted on engine.state (it carries no events)"


def test_topics_admitted_takes_a_full_name():
    topics = Topics("desk1.")
    assert topics.admitted("desk1.commands", new_order()) is None
    assert "not admitted on commands" in topics.admitted("desk1.commands", execution_report())
    assert topics.admitted("exec.reports", ExecutionReport.schema_name) is None
    with pytest.raises(KeyError):
        topics.admitted("other.commands", new_order())


def test_every_event_type_is_admitted_somewhere():
    somewhere = {cls for spec in BY_NAME.values() for cls in spec.admits}
    assert somewhere == set(EVENT_TYPES)


def test_admitting_folds_admitted_events_and_refuses_the_others():
    fold = admitting("risk.controls", lambda seen, event: [*seen, event.event_id])
    control = risk_control()
    assert isinstance(control, RiskControl)
    assert fold([], control) == [control.event_id]
    with pytest.raises(ValueError, match="NewOrder is not admitted on risk.controls"):
        fold([], new_order())
    assert NewOrder.schema_name == "oms.NewOrder"
