"""A simulated exchange with test hooks for venue faults: unavailable, silent, throttling, disconnected.

`FlakyExchange` is the simulator (`oms.venues.simulated.SimulatedExchange`)
with switches a test flips: `unavailable` (every request raises
`VenueUnavailable`, the session still up), `silent` (requests are taken and
never answered), `throttle` (the next N requests are answered with a
"throttled" reject, not processed), `connected_flag` (the session is down:
`connected()` is False and requests raise). The switches may be flipped from
another thread (the integration tests run the gateway in one).
"""

from __future__ import annotations

from oms.events import ExecType, ExecutionReport, OrderStatus, VenueAction, VenueRequest
from oms.venues import VenueUnavailable
from oms.venues.simulated import SimulatedExchange


class FlakyExchange(SimulatedExchange):
    unavailable: bool = False
    silent: bool = False
    throttle: int = 0
    connected_flag: bool = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []
        """Request ids in the order they reached the venue."""
        self.sent_at: list[int] = []
        """When each call reached the venue (the gateway's `now`)."""

    def connected(self) -> bool:
        return self.connected_flag

    def _fault(self, request: VenueRequest, now: int) -> list[ExecutionReport] | None:
        """The faulty answer to `request` while a switch is on, else None (the simulator answers)."""
        self.calls.append(request.request_id)
        self.sent_at.append(now)
        if not self.connected_flag:
            raise VenueUnavailable("not logged on")
        if self.unavailable:
            raise VenueUnavailable("venue unavailable (test)")
        if self.silent:
            return []
        if self.throttle > 0:
            self.throttle -= 1
            exec_id = f"{self.name}-throttled-{len(self.calls)}"
            return [ExecutionReport(
                event_id=exec_id, ts_event=now, ts_init=now, venue=self.name, account=request.account,
                order_id=request.order_id, request_id=request.request_id, exec_id=exec_id,
                exec_type=ExecType.REJECTED if request.action is VenueAction.NEW else ExecType.CANCEL_REJECTED,
                order_status=OrderStatus.REJECTED, instrument=request.instrument, side=request.side,
                order_qty=request.quantity, reason="throttled: too many messages")]
        return None

    def submit(self, request, now):
        faulty = self._fault(request, now)
        return super().submit(request, now) if faulty is None else faulty

    def amend(self, request, now):
        faulty = self._fault(request, now)
        return super().amend(request, now) if faulty is None else faulty

    def cancel(self, request, now):
        faulty = self._fault(request, now)
        return super().cancel(request, now) if faulty is None else faulty

    def status(self, request, now):
        faulty = self._fault(request, now)
        return super().status(request, now) if faulty is None else faulty
