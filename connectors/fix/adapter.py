"""`FixVenue`: the OMS's `VenueAdapter` for a FIX 4.4 venue, over QuickFIX's Python binding.

The session layer is QuickFIX's (`quickfix` on PyPI): a `SocketInitiator` with
a file store in the data directory (a restart resumes the sequence numbers),
heartbeats, logon, resend requests and gap fills all done by the engine. This
module owns the seam between that engine's thread and the OMS: `submit`,
`amend`, `cancel`, `status` and `mass_status` send NewOrderSingle,
OrderCancelReplaceRequest, OrderCancelRequest, OrderStatusRequest and
OrderMassStatusRequest and return `[]` (or raise `VenueUnavailable` when not
logged on); incoming ExecutionReports and OrderCancelRejects are mapped
(`connectors.fix.mapping`) on the session thread and queued, and `poll(now)`
hands them over with the logons and logouts (`ConnectionChange`) in arrival
order. A report is kept in the store from its arrival until it is handed over
(an adapter killed in between hands it over after its restart); a report whose
exec id was already handed over or is waiting (a PossDupFlag resend, a
PossResend repeat) is dropped; what was handed over is recorded
(`connectors.fix.store`) so `open_orders()` and `fills(since_ns)` answer from
it, and so reports after a restart still name the OMS order. When the venue
asks for a resend, the adapter's own requests are resent (PossDupFlag) only if
first sent within `resend_window_s`, older ones are gap-filled: a stale order
must not reach the market late; in-flight tracking and reconciliation find out
what the venue has. A Logout past the expected incoming sequence number (a
venue refusing a logon while it holds reports for us) would make QuickFIX skip
those reports for good; the expected number is put back after the logout, so
the next logon's resend request covers them. The initiator is stopped by
`close()`, and at interpreter exit for any adapter left open (the binding
crashes the interpreter when an initiator is alive at exit).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import weakref
from collections import deque
from pathlib import Path

import quickfix as fix
from pydantic import ValidationError

from oms.clock import Clock, LiveClock
from oms.events import ExecutionReport, OrderType, Quote, TimeInForce, Trade, VenueAction, VenueRequest
from oms.venues import OpenOrder

from connectors.fix.config import FixVenueConfig, render_settings
from connectors.fix.mapping import (
    FixMappingError,
    OrderRef,
    Tags,
    mass_status_request,
    parse_fields,
    parse_utc_timestamp,
    request_message,
    to_report,
)
from connectors.fix.store import FixOrderStore

from oms.venues import ConnectionChange, ConnectionState, VenueUnavailable

__all__ = ["FixVenue"]

log = logging.getLogger("oms.fix")

_APP_TYPES = frozenset({"D", "G", "F", "H", "AF"})
_LIVE: "weakref.WeakSet[FixVenue]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for venue in list(_LIVE):
        venue.close()


class FixVenue:
    """One FIX 4.4 initiator session to one venue (see the module docstring)."""

    synchronous = False
    """Answers arrive through `poll`, from the session thread."""

    def __init__(self, config: FixVenueConfig, *, clock: Clock | None = None) -> None:
        self.name = config.venue
        self.config = config
        self._clock = clock or LiveClock()
        data_dir = Path(config.data_dir).absolute()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._store = FixOrderStore(data_dir / "orders.sqlite")
        self._lock = threading.Lock()
        self._inbox: deque[ExecutionReport | ConnectionChange] = deque(self._store.waiting())
        self._last_ts = 0
        self._logged_on = threading.Event()
        self._mass_ids = itertools.count(1)
        self._mass_status_pending: str | None = None
        self.duplicates = 0
        """Reports dropped because their exec id was already handed over or queued."""
        self._session_id = fix.SessionID("FIX.4.4", config.sender_comp_id, config.target_comp_id)
        dictionary = config.data_dictionary
        if dictionary is None:
            from connectors.quickfixj import fix44_dictionary

            if config.cache_dir is None:
                raise ValueError("cache_dir: needed to find FIX44.xml when data_dictionary is not given")
            dictionary = fix44_dictionary(config.cache_dir)
        settings_file = data_dir / "initiator.cfg"
        settings_file.write_text(render_settings(config, Path(dictionary)))
        settings = fix.SessionSettings(str(settings_file))
        self._application = _Session(self)
        store = fix.FileStoreFactory(settings)
        if config.file_log:
            self._initiator = fix.SocketInitiator(self._application, store, settings, fix.FileLogFactory(settings))
        else:
            self._initiator = fix.SocketInitiator(self._application, store, settings)
        self._closed = False
        _LIVE.add(self)
        self._initiator.start()

    def __repr__(self) -> str:
        return f"FixVenue({self.name!r}, {self.config.sender_comp_id}->{self.config.target_comp_id})"

    # ------------------------------------------------------------ requests

    def submit(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._send_request(request, VenueAction.NEW, now)

    def amend(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._send_request(request, VenueAction.REPLACE, now)

    def cancel(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._send_request(request, VenueAction.CANCEL, now)

    def status(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._send_request(request, VenueAction.STATUS, now)

    def mass_status(self, now: int) -> list[ExecutionReport]:
        """Send an OrderMassStatusRequest; the ORDER_STATUS reports come through `poll`."""
        self._require_session()
        mass_status_id = f"MS-{now}-{next(self._mass_ids)}"
        msg_type, fields = mass_status_request(mass_status_id, self.config)
        with self._lock:
            self._mass_status_pending = mass_status_id
        self._send(msg_type, fields)
        return []

    def mass_status_pending(self) -> bool:
        """Whether the last OrderMassStatusRequest's final answer (LastRptRequested=Y) is still to come
        (beyond the contract: a reconciliation that waits for the whole answer asks this between polls)."""
        with self._lock:
            return self._mass_status_pending is not None

    def _send_request(self, request: VenueRequest, action: VenueAction, now: int) -> list[ExecutionReport]:
        if request.venue != self.name:
            raise ValueError(f"venue: request for {request.venue!r} sent to venue {self.name!r}")
        if request.action is not action:
            raise ValueError(f"action: {request.action.value} request passed where {action.value} is expected")
        msg_type, fields = request_message(request, self.config, now)  # bad requests fail before anything is kept
        self._require_session()
        if not self._store.put_ref(OrderRef.of(request)):
            log.info("%s: request %s was sent before; not sent again", self.name, request.request_id)
            return []
        try:
            self._send(msg_type, fields)
        except BaseException:
            self._store.forget_ref(request.request_id)  # not sent: a retry must send it
            raise
        return []

    def _require_session(self) -> None:
        if self._closed:
            raise VenueUnavailable(f"{self.name}: the FIX adapter is closed")
        if not self._logged_on.is_set():
            raise VenueUnavailable(f"{self.name}: FIX session {self._session_id.toString()} is not logged on")

    def _send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        message = fix.Message()
        message.getHeader().setField(fix.StringField(Tags.MSG_TYPE, msg_type))
        for tag, value in fields:
            message.setField(fix.StringField(tag, value))
        if not fix.Session.sendToTarget(message, self._session_id):
            raise VenueUnavailable(f"{self.name}: FIX session {self._session_id.toString()} did not send {msg_type}")

    # ------------------------------------------------------------ asynchronous answers

    def connected(self) -> bool:
        return self._logged_on.is_set() and not self._closed

    def wait_connected(self, timeout: float) -> bool:
        """Block until the session is logged on (or `timeout` seconds pass); whether it is."""
        return self._logged_on.wait(timeout)

    def poll(self, now: int) -> list[ExecutionReport | ConnectionChange]:
        """Everything that arrived since the last poll, in arrival order; reports are recorded as delivered."""
        with self._lock:
            out = list(self._inbox)
            self._inbox.clear()
            self._store.record([item for item in out if isinstance(item, ExecutionReport)])
        return out

    # ------------------------------------------------------------ what the adapter recorded

    def open_orders(self) -> list[OpenOrder]:
        out = []
        for r in self._store.working():
            ref = self._store.ref(r.request_id) or self._store.ref(r.order_id)
            out.append(OpenOrder(
                venue=self.name, venue_order_id=r.venue_order_id or r.request_id, account=r.account,
                order_id=r.order_id, request_id=r.request_id, instrument=r.instrument, side=r.side,
                order_type=ref.order_type if ref else (OrderType.LIMIT if r.limit_price else OrderType.MARKET),
                time_in_force=ref.time_in_force if ref else TimeInForce.DAY, quantity=r.order_qty, limit_price=r.limit_price, cum_qty=r.cum_qty,
                leaves_qty=r.leaves_qty, avg_px=r.avg_px, status=r.order_status,
            ))
        return out

    def fills(self, since_ns: int = 0) -> list[ExecutionReport]:
        return self._store.fills(since_ns)

    def unmapped(self) -> list[tuple[int, str, str]]:
        """Incoming messages the mapping refused: (ts, raw FIX, reason)."""
        return self._store.unmapped()

    def on_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        return []  # a real venue matches its own book

    def on_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        return []

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the initiator (logging out) and release the store; idempotent."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        try:
            self._initiator.stop()
        finally:
            # Destroying the initiator unregisters its session: another adapter for the same
            # SenderCompID/TargetCompID (a restart in this process) must not find the stopped one.
            self._initiator = None
            self._logged_on.clear()
            self._store.close()

    def __enter__(self) -> "FixVenue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ session thread

    def _stamp(self) -> int:
        self._last_ts = max(self._clock.now_ns(), self._last_ts)
        return self._last_ts

    def _stale(self, header) -> bool:
        """Was the request being resent first sent longer than `resend_window_s` ago (or when, unknown)?"""
        if not header.isSetField(Tags.ORIG_SENDING_TIME):
            return True
        try:
            sent = parse_utc_timestamp(header.getField(Tags.ORIG_SENDING_TIME))
        except FixMappingError:
            return True
        return self._clock.now_ns() - sent > self.config.resend_window_s * 1e9

    def _on_logon(self) -> None:
        with self._lock:
            self._logged_on.set()
            self._inbox.append(ConnectionChange(self.name, ConnectionState.CONNECTED, self._stamp(), "logged on"))

    def _on_logout(self) -> None:
        with self._lock:
            if not self._logged_on.is_set():
                return  # a logon attempt that failed: no session went down
            self._logged_on.clear()
            self._inbox.append(ConnectionChange(self.name, ConnectionState.DISCONNECTED, self._stamp(),
                                                "logged out or disconnected"))

    def _on_message(self, raw: str) -> None:
        fields = parse_fields(raw)
        if fields.get(Tags.MSG_TYPE) not in ("8", "9", "j"):
            log.warning("%s: ignored %s", self.name, raw.replace("\x01", "|"))
            return
        final = fields.get(Tags.MASS_STATUS_REQ_ID) if fields.get(Tags.LAST_RPT_REQUESTED) == "Y" else None
        with self._lock:
            now = self._stamp()
        try:
            report = to_report(fields, self.name, self.config, self._store.ref, now)
        except (FixMappingError, ValidationError) as exc:
            log.error("%s: cannot map %r: %s", self.name, raw.replace("\x01", "|"), exc)
            self._store.keep_unmapped(now, raw, str(exc))
            report = None
        with self._lock:  # queued and the mass status finished at once: a poll sees both or neither
            if report is not None:
                if self._store.receive(report):
                    self._inbox.append(report)
                else:
                    self.duplicates += 1
            if final is not None and final == self._mass_status_pending:
                self._mass_status_pending = None


def _restore_target(session_id, expected: int) -> None:
    session = fix.Session.lookupSession(session_id)
    if session is not None and session.getExpectedTargetNum() > expected:
        log.warning("FIX %s: a Logout arrived past the expected sequence number %d; expecting %d again so "
                    "the next logon asks for the messages in between", session_id.toString(), expected, expected)
        session.setNextTargetMsgSeqNum(expected)


class _Session(fix.Application):
    """QuickFIX's callbacks, run on the engine's thread: handed to the adapter, never raised into C++."""

    def __init__(self, venue: FixVenue) -> None:
        super().__init__()
        self._venue = weakref.proxy(venue)
        self._expected_before_logout: int | None = None
        """The incoming sequence number expected when a Logout past it arrived (see `fromAdmin`)."""

    def onCreate(self, sessionID) -> None:  # noqa: N802 - QuickFIX's names
        pass

    def onLogon(self, sessionID) -> None:  # noqa: N802
        self._guard(self._venue._on_logon)

    def onLogout(self, sessionID) -> None:  # noqa: N802
        expected, self._expected_before_logout = self._expected_before_logout, None
        if expected is not None:
            self._guard(lambda: _restore_target(sessionID, expected))
        self._guard(self._venue._on_logout)

    def toAdmin(self, message, sessionID) -> None:  # noqa: N802
        pass

    def fromAdmin(self, message, sessionID) -> None:  # noqa: N802
        raw = message.toString()
        if "\x0135=3\x01" in raw:  # a session-level Reject of something we sent: say so loudly
            log.error("FIX session reject: %s", raw.replace("\x01", "|"))
        elif "\x0135=5\x01" in raw:
            # A Logout past the expected sequence number (a venue refusing our logon while it holds
            # reports for us): QuickFIX counts it as the next expected message and would never ask for
            # the ones in between; the expected number is put back once the session is down, so the
            # next logon's resend request covers them.
            try:
                seq = int(message.getHeader().getField(Tags.MSG_SEQ_NUM))
                expected = fix.Session.lookupSession(sessionID).getExpectedTargetNum()
            except Exception:  # an exception must not unwind into the engine's C++ thread
                log.exception("FIX fromAdmin failed")
                return
            if seq > expected:
                self._expected_before_logout = expected

    def toApp(self, message, sessionID) -> None:  # noqa: N802
        try:
            header = message.getHeader()
            stale = (header.isSetField(Tags.POSS_DUP) and header.getField(Tags.POSS_DUP) == "Y"
                     and header.getField(Tags.MSG_TYPE) in _APP_TYPES and self._venue._stale(header))
        except Exception:  # an exception must not unwind into the engine's C++ thread
            log.exception("FIX toApp failed")
            return
        if stale:
            raise fix.DoNotSend()  # an old request of ours the venue asked for again: gap-filled, never sent late

    def fromApp(self, message, sessionID) -> None:  # noqa: N802
        raw = message.toString()
        self._guard(lambda: self._venue._on_message(raw))

    @staticmethod
    def _guard(callback) -> None:
        try:
            callback()
        except ReferenceError:
            pass  # the adapter is gone
        except Exception:  # an exception must not unwind into the engine's C++ thread
            log.exception("FIX callback failed")

