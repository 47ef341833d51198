"""The simulated exchange produces the FIX hard-case reports, and the order aggregate books them.

This module owns the checks of `SimulatedExchange.late_fill`, `restate`,
`suspend` and `resume`: each yields the report a real venue would send, and
that report folded through the order aggregate gives the FIX outcome (a late
fill booked on a canceled order, a restatement, a suspension and its end).
"""

from __future__ import annotations

from decimal import Decimal as D

from oms.domain.orders import decide_report
from oms.events import ExecType, OrderStatus, RestatementReason, TimeInForce
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
from tests.builders import OrderHarness


class Venue(OrderHarness):
    """One order through the engine's decisions, with its reports from a simulated exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.exchange = SimulatedExchange(self.venue, 7, SimulatedVenueConfig())

    def deliver(self, reports) -> list:
        out = []
        for report in reports:
            out += self._run(decide_report(report, self.order, self.tick()))
        return out

    def submit(self, **kw) -> None:
        events = self.new(**kw)
        self.deliver(self.exchange.submit(events[-1], self.now))

    def last_request(self):
        return self.outputs[-1]


def test_simulated_late_fill_after_cancel_is_booked() -> None:
    v = Venue()
    v.submit()
    v.cancel("c")
    v.deliver(v.exchange.cancel(v.last_request(), v.now))
    assert v.order.status is OrderStatus.CANCELED
    (report,) = v.exchange.late_fill(v.order.order_id, D(30), D("187"), v.now)
    assert report.order_status is OrderStatus.CANCELED and report.leaves_qty == 0
    filled, fill = v.deliver([report])
    assert filled.late and fill.late and v.order.cum_qty == D(30) and v.order.status is OrderStatus.CANCELED


def test_simulated_restatement_suspension_and_resume() -> None:
    v = Venue()
    v.submit(time_in_force=TimeInForce.GTC)
    (restated,) = v.exchange.restate(v.order.order_id, v.now, quantity=D(80),
                                     why=RestatementReason.PARTIAL_DECLINE)
    v.deliver([restated])
    assert (v.order.quantity, v.order.leaves_qty) == (D(80), D(80))
    v.deliver(v.exchange.suspend(v.order.order_id, v.now))
    assert (v.order.status, v.order.leaves_qty) == (OrderStatus.SUSPENDED, D(80))
    v.deliver(v.exchange.resume(v.order.order_id, v.now))
    assert v.order.status is OrderStatus.NEW


def test_a_cancel_may_cross_a_late_fill_when_configured_and_the_answer_stays_idempotent():
    from decimal import Decimal as D

    from oms.events import ExecType, OrderStatus, VenueAction
    from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig
    from tests.builders import venue_request

    venue = SimulatedExchange("XNAS", 1, SimulatedVenueConfig(late_fill_probability=1.0))
    venue.submit(venue_request(request_id="n1", quantity=D(100)), 1)
    cancel = venue_request(action=VenueAction.CANCEL, request_id="c1", orig_request_id="n1")
    canceled, late = venue.cancel(cancel, 2)
    assert canceled.exec_type is ExecType.CANCELED
    assert (late.exec_type, late.order_status, late.last_qty) == (ExecType.PARTIAL_FILL, OrderStatus.CANCELED, D(50))
    assert venue.cancel(cancel, 3) == [canceled, late]
    plain = SimulatedExchange("XNAS", 1)
    plain.submit(venue_request(request_id="n1", quantity=D(100)), 1)
    assert [r.exec_type for r in plain.cancel(cancel, 2)] == [ExecType.CANCELED]
