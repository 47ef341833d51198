"""A seeded, deterministic simulated exchange: the `VenueAdapter` used until real venues are wired.

This module owns the exchange model: order acceptance and random rejects,
matching against the book it is told about, resting orders, replaces,
cancels, and test helpers for busts, corrections and unsolicited cancels. It is
pure: time comes in as `now` (UTC nanoseconds), randomness only from the
`random.Random` it holds (seeded from the seed and the venue name), prices and
quantities are `Decimal`. The same name, seed, config and inputs always give
the same reports, exec ids and timestamps.

Model, in the order a NEW is handled:

- Rejects: a LIMIT without a price, an `order_id` already working here, a
  random reject (probability `reject_probability`, one draw per NEW) and a
  MARKET order for an instrument with no quote yet ("no market") are answered
  with one REJECTED report. Otherwise the order is acknowledged (NEW report
  carrying the `venue_order_id`).
- Liquidity is the last quote of the instrument (`on_quote`; a quote naming
  another venue is ignored): its levels (`Quote.bid_levels`, `ask_levels`),
  or its top of book alone when it shows none. Each quote is fresh displayed
  liquidity; fills consume it until the next quote. A buy takes the asks, a
  sell the bids, best level first, at each level's price, at most its
  displayed size (times `max_fill_fraction`) per order per quote, one report
  per level taken. A MARKET order takes every level; a LIMIT order the levels
  at or better than its limit (buy limit >= ask, sell limit <= bid), at once;
  an order larger than that gets PARTIAL_FILLs.
- What is left rests: a LIMIT order until a later quote crosses it; a MARKET
  order with no more displayed liquidity also rests and takes liquidity from
  the next quotes at whatever price they show. On each quote resting orders
  are matched by priority: market orders first, then better limit price, then
  arrival. DAY and GTC are not told apart (the simulator has no session end).
- IOC fills what is available, then a CANCELED report (ExecType and OrdStatus
  CANCELED, not EXPIRED) ends the rest. FOK fills entirely if the displayed
  size within its limit suffices, else is CANCELED with no fill. Both are acknowledged first.
- Trade prints (`on_trade`) fill resting LIMIT orders only when
  `fill_on_trades` is set: a print at or through the limit fills up to the
  print's size, at the limit price (a passive fill).

REPLACE (`amend`) finds the order by `orig_request_id` (else by `order_id`);
an unknown or closed order, or a change of side or instrument, gets a
CANCEL_REJECTED. Otherwise quantity and price change (a LIMIT replace without
a price keeps the old one; the order type never changes), a REPLACED report
carries the new `request_id`, and marketability is checked again. A new
quantity at or below `cum_qty` ends the order: REPLACED with leaves 0 and
status FILLED. CANCEL: a working order gets CANCELED (then, with probability
`late_fill_probability`, a late fill that crossed the cancel), an unknown or closed one
CANCEL_REJECTED (OrdStatus the order's, or REJECTED when unknown). STATUS
(`status`): one ORDER_STATUS report with the order's state, changing nothing
(REJECTED, OrdRejReason UNKNOWN_ORDER, for an order it does not hold).

Idempotency: the reports answering a request are kept by `request_id`; the
same request id again returns those same reports (same exec ids) and changes
nothing. Later, market-driven fills are not part of that answer.

Reports: exec ids `f"{name}-{session}-{n}"` from one counter, `event_id` = exec id,
venue order ids `f"{name}-{session}-O{n}"`; `session` is the base-36 millisecond time the
exchange was created (`started_ns`, injected), so exec ids stay unique across restarts
(without `started_ns` the ids are `f"{name}-{n}"` and `f"{name}-O{n}"`: deterministic, for
tests that build one exchange only). `ts_event` = `now` + latency (`latency_ns`
plus a uniform draw in +-`latency_jitter_ns`, one draw per input), never
earlier than the previous report's, so reports never overtake each other;
`ts_init` equals `ts_event`. Fill reports carry `last_qty`, `last_px`,
`cum_qty`, `leaves_qty` and `avg_px` (exact, quantized to 8 places) and the
order's live request id. Reports are built without a second validation (`oms.events.built`)
while every value of the order is known to fit the wire (`VenueOrder.wire_checked`: its names
and amounts came from a validated request or quote, or were checked with `fits_wire` where they
came in: restatements, corrections, late fills, the hooks' prices) and the exec id, time and
reason fit; otherwise they are validated as the boundary does. A bust or correction
(`bust`, `correct`) names the original fill in `ref_exec_id`; a bust gives the busted quantity back to a
working order, while a closed order stays closed with leaves 0 and, if it no
longer is fully filled, status DONE_FOR_DAY.

Hooks for a richer model (a subclass such as the backtest's `replay.models.QueueExchange`):
`fill_price(order, px, qty, liquidity)` prices a fill taken from the book (slippage, impact)
and `queue_ahead(order, remaining)` says how much of a print at a resting order's own price
goes to size queued ahead of it; both default to the plain model above. The queries `order`
(an order by OMS order id, a read-only `VenueOrder`), `working` (by venue order id) and
`touch` (best price and displayed size on a side) are what such a subclass reads; it
overrides the public calls (`submit`, `amend`, `on_quote`, `on_trade`) and calls them on
`super()`, never the exchange's private state.

Restart: with `SimulatedVenueConfig.state_dir` (or an injected `oms.state.Store`) the
exchange keeps its book across a restart, like a real venue that outlives the OMS's
gateway: after every call that changes something it writes the orders, fills, answers
and counters it changed to the store (one write batch), and a new exchange on the same
store starts from them (`restored` says how many orders it read; quotes are not kept:
liquidity is fresh after a restart, and the random draws start again from the seed).
Without a store (the default) the book lives in memory and a restart loses it honestly:
`restored` is 0 and the new session prefix shows the restart in every exec id.
`mass_status` answers ORDER_STATUS for every working order (the venue side of
reconciliation, `oms.venues.reconcile`); `connected`, `poll` and `close` complete the
adapter contract (always connected, nothing asynchronous, `close` releases the store).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import functools
import json
import random
import re
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal

from oms.events import (
    ExecType,
    ExecutionReport,
    OrderRejectReason,
    OrderStatus,
    OrderType,
    Quote,
    RestatementReason,
    Side,
    TimeInForce,
    Trade,
    VenueAction,
    VenueRequest,
    built,
    fits_wire,
)
from oms.domain.sor.fees import FeeSchedule, Liquidity
from oms.venues import OpenOrder

if TYPE_CHECKING:
    from oms.state import Store

__all__ = ["SimulatedExchange", "SimulatedVenueConfig", "VenueOrder"]

ZERO = Decimal(0)
_Q = Decimal(1).scaleb(-8)
_CTX = Context(prec=60)
"""Wide enough that qty * price sums are exact for any decimal(28, 8) inputs."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@\-]{0,39}$")

_CLOSED_BY_FILLS = (OrderStatus.FILLED, OrderStatus.DONE_FOR_DAY)
_MAX_ID, _MAX_TEXT, _MAX_NS = 64, 1024, 2**63
"""The wire's limits of an `Identifier`, a `Text` and a time in ns (`oms.events`)."""


def _fits_price(value: Decimal) -> bool:
    """A `Price` or `Amount` as it is (either sign), the wire's decimal(28, 8)."""
    return fits_wire(value) or fits_wire(-value)


@dataclass(frozen=True)
class SimulatedVenueConfig:
    """How the simulated exchange behaves; the default is a perfect, instant venue."""

    latency_ns: int = 0
    """Mean delay between an input and the reports it causes (`ts_event - now`)."""
    latency_jitter_ns: int = 0
    """Uniform jitter around `latency_ns`: the delay is drawn in `latency_ns +- jitter` (floored at 0)."""
    reject_probability: float = 0.0
    """Chance that a valid NEW is rejected ("simulated venue reject")."""
    max_fill_fraction: Decimal = Decimal(1)
    """The most of one quote's displayed size a single order may take from it, in (0, 1]."""
    fill_on_trades: bool = False
    """Whether trade prints at or through a resting limit fill it (at the limit price)."""
    late_fill_probability: float = 0.0
    """Chance that a cancel crosses an execution: after the CANCELED report the venue
    reports a fill of half the canceled rest (at least all of a rest of 1 or less) at the limit
    price, else the quote's far side; one draw per cancel, only when above 0."""
    fees: FeeSchedule | None = None
    """The venue's fee schedule (`oms.domain.sor.fees`): each fill's commission is its taker fee when
    the order took liquidity on arrival, its maker fee (negative: a rebate) when it filled resting, on a
    later quote or trade print. None: no commission."""
    resting_fill_probability: float = 1.0
    """Chance that a resting order whose limit a new quote crosses fills on that quote (one draw per
    order per quote, only when below 1): a venue whose queue is long fills resting orders less often."""
    state_dir: Path | None = None
    """Where the exchange keeps its book across restarts (a RocksDB store per venue name under
    it). None (the default): the book lives in memory and a restart starts empty. The default
    is the pure, in-memory venue because unit tests, the bench and the demo want it; a gateway
    that must survive kill -9 like a real venue passes a directory."""

    def __post_init__(self) -> None:
        if self.latency_ns < 0 or self.latency_jitter_ns < 0:
            raise ValueError("latency_ns: latency and jitter cannot be negative")
        if not 0.0 <= self.reject_probability <= 1.0:
            raise ValueError(f"reject_probability: {self.reject_probability} is not in [0, 1]")
        if not 0.0 <= self.resting_fill_probability <= 1.0:
            raise ValueError(f"resting_fill_probability: {self.resting_fill_probability} is not in [0, 1]")
        if not 0.0 <= self.late_fill_probability <= 1.0:
            raise ValueError(f"late_fill_probability: {self.late_fill_probability} is not in [0, 1]")
        fraction = Decimal(self.max_fill_fraction)
        if not ZERO < fraction <= 1:
            raise ValueError(f"max_fill_fraction: {fraction} is not in (0, 1]")
        object.__setattr__(self, "max_fill_fraction", fraction)


@dataclass
class VenueOrder:
    """An order as the exchange holds it. Outside this module (subclasses, `order`) it is read,
    never changed: the exchange alone moves its quantities and status."""

    account: str
    order_id: str
    request_id: str
    instrument: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    limit_price: Decimal | None
    arrival: int = 0
    venue_order_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING_NEW
    working: bool = False
    cum_qty: Decimal = ZERO
    notional: Decimal = ZERO
    key: str | None = None
    """The order's key in the store: its venue order id, or `R:<request id>` when rejected."""
    created: int = 0
    """Creation sequence of the exchange (restores `order id -> order` in the same order)."""
    request_ids: list[str] = field(default_factory=list)
    """Every request id that names this order here (restores `request id -> order`)."""
    wire_checked: bool = True
    """Whether every amount and id of the order came from a validated request or quote, or was
    checked where it came in (`fits_wire`, a length): then its reports are built without a second
    validation (`oms.events.built`); once a value that may not fit came in, they are validated."""

    @property
    def leaves(self) -> Decimal:
        return max(self.quantity - self.cum_qty, ZERO) if self.working else ZERO

    @property
    def avg_px(self) -> Decimal:
        if self.cum_qty <= 0:
            return ZERO
        return _CTX.divide(self.notional, self.cum_qty).quantize(_Q, rounding=ROUND_HALF_EVEN, context=_CTX)

    def priority(self) -> tuple:
        if self.order_type is OrderType.MARKET or self.limit_price is None:
            return (0, ZERO, self.arrival)
        return (1, -self.limit_price if self.side is Side.BUY else self.limit_price, self.arrival)


@dataclass
class _Fill:
    exec_id: str
    order: VenueOrder
    qty: Decimal
    px: Decimal
    busted: bool = False


Level = tuple[Decimal, Decimal]
"""A displayed level: (price, size left)."""


@dataclass
class _Book:
    """An instrument's displayed book: per side `[price, size left]` levels, best first (a quote's levels,
    or its top of book alone); fills take size from the levels until the next quote."""

    bids: list[list[Decimal]]
    asks: list[list[Decimal]]

    @classmethod
    def of(cls, quote: Quote) -> "_Book":
        return cls([[level.price, level.size] for level in quote.bid_levels] or [[quote.bid_price, quote.bid_size]],
                   [[level.price, level.size] for level in quote.ask_levels] or [[quote.ask_price, quote.ask_size]])

    def taking(self, side: Side) -> list[list[Decimal]]:
        """The levels an order of `side` takes from: a buy the asks, a sell the bids."""
        return self.asks if side is Side.BUY else self.bids


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def _persisted(method):
    """Write what the call changed to the exchange's store (if it has one) once it returns."""

    @functools.wraps(method)
    def call(self: "SimulatedExchange", *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        finally:
            self._persist()

    return call


_ORDER_FIELDS = ("account", "order_id", "request_id", "instrument", "side", "order_type", "time_in_force",
                 "quantity", "limit_price", "arrival", "venue_order_id", "status", "working", "cum_qty",
                 "notional", "key", "created", "request_ids", "wire_checked")
_DECIMALS = ("quantity", "limit_price", "cum_qty", "notional")
_ENUMS = {"side": Side, "order_type": OrderType, "time_in_force": TimeInForce, "status": OrderStatus}


def _dump_order(order: VenueOrder) -> bytes:
    record = {}
    for name in _ORDER_FIELDS:
        value = getattr(order, name)
        if isinstance(value, Decimal):
            value = str(value)
        elif hasattr(value, "value"):
            value = value.value
        record[name] = value
    return json.dumps(record).encode()


def _load_order(data: bytes) -> VenueOrder:
    record = json.loads(data)
    for name in _DECIMALS:
        if record[name] is not None:
            record[name] = Decimal(record[name])
    for name, enum in _ENUMS.items():
        record[name] = enum(record[name])
    return VenueOrder(**record)


class SimulatedExchange:
    """One simulated venue (see the module docstring for the model)."""

    synchronous = True
    """Every answer is the return value of the call that caused it."""

    def __init__(
        self, name: str, seed: int, config: SimulatedVenueConfig | None = None, *,
        started_ns: int | None = None, store: "Store | None" = None,
    ) -> None:
        if not _NAME.match(name):
            raise ValueError(f"name: {name!r} is not a venue name (letters, digits, ._:/@-; at most 40)")
        if started_ns is not None and started_ns < 0:
            raise ValueError(f"started_ns: {started_ns} is not a time (UTC nanoseconds)")
        self.name = name
        self.seed = seed
        self.config = config or SimulatedVenueConfig()
        self.session = None if started_ns is None else _base36(started_ns // 1_000_000)
        """The prefix that tells this run's exec ids from those of earlier runs (None: no prefix)."""
        self._prefix = name if self.session is None else f"{name}-{self.session}"
        self._rng = random.Random(f"{name}:{seed}")
        self._exec_seq = 0
        self._order_seq = 0
        self._created_seq = 0
        self._last_ts = 0
        self._books: dict[str, _Book] = {}
        self._live: dict[str, VenueOrder] = {}  # venue order id -> working order, in arrival order
        self._by_request: dict[str, VenueOrder] = {}
        self._by_order_id: dict[str, VenueOrder] = {}
        self._answers: dict[str, tuple[ExecutionReport, ...]] = {}
        self._fills: dict[str, _Fill] = {}
        self._fill_log: list[ExecutionReport] = []
        if store is None and self.config.state_dir is not None:
            from oms.state import RocksStore  # local: rocksdict only when a book is kept

            store = RocksStore(Path(self.config.state_dir) / name)
        self._store = store
        self._dirty_orders: dict[str, VenueOrder] = {}
        self._dirty_fills: set[str] = set()
        self._dirty_answers: set[str] = set()
        self._logged = 0
        self.restored = self._restore() if store is not None else 0
        """How many orders (working or not) the exchange read back from its store at start."""

    @property
    def keeps_book(self) -> bool:
        """Whether the book survives a restart (a store is attached)."""
        return self._store is not None

    # ------------------------------------------------- hooks for subclasses

    def order(self, order_id: str) -> VenueOrder | None:
        """The exchange's order for this OMS order id (the working one, else the latest), or None."""
        return self._by_order_id.get(order_id)

    def working(self, venue_order_id: str) -> bool:
        """Whether the order with this venue order id is working here (resting, not suspended)."""
        return venue_order_id in self._live

    def touch(self, instrument: str, side: Side) -> tuple[Decimal, Decimal] | None:
        """(price, displayed size) of the best quote on `side`'s own side (bid for BUY, ask for SELL),
        where a resting order of that side joins; what fills have consumed of it is gone. None
        before the instrument's first quote."""
        book = self._books.get(instrument)
        if book is None:
            return None
        price, size = (book.bids if side is Side.BUY else book.asks)[0]
        return price, size

    def fill_price(self, order: VenueOrder, px: Decimal, qty: Decimal, liquidity: Liquidity) -> Decimal:
        """The price at which `order` takes `qty` displayed at `px` in the book: on arrival (TAKER)
        or when a new quote crosses it while it rests (MAKER). Here `px`; a subclass overrides it
        to model slippage and market impact (the book's displayed size is consumed the same)."""
        return px

    def queue_ahead(self, order: VenueOrder, remaining: Decimal) -> Decimal:
        """Of a trade print at `order`'s own limit price, with `remaining` of its size not yet
        given to better-placed orders: how much goes to size queued ahead of `order` first (at most
        `remaining`). Called for every resting order at the print's price, in priority order, also
        once nothing is left. Here 0 (a resting order is at the front); a subclass overrides it to
        model queue position."""
        return ZERO

    # ------------------------------------------------------------ contract

    def connected(self) -> bool:
        """Always: the simulated venue lives in the gateway's process."""
        return True

    def poll(self, now: int) -> list[ExecutionReport]:
        """Nothing arrives asynchronously: every report is the return value of a call."""
        return []

    def close(self) -> None:
        """Release the store (nothing to do without one)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def mass_status_pending(self) -> bool:
        """Never: the mass status is answered in the return value of `mass_status`."""
        return False

    def mass_status(self, now: int) -> list[ExecutionReport]:
        """ORDER_STATUS (FIX 150=I) for every working order, in arrival order; changes no order
        (the reports get exec ids of their own, like any report)."""
        ts = self._stamp(now)
        out = []
        for order in list(self._live.values()):
            out.append(self._report(order, ExecType.ORDER_STATUS, ts))
        self._persist()
        return out

    # ------------------------------------------------------------ requests

    @_persisted
    def submit(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._answer(request, VenueAction.NEW, now, self._submit)

    @_persisted
    def amend(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._answer(request, VenueAction.REPLACE, now, self._amend)

    @_persisted
    def cancel(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._answer(request, VenueAction.CANCEL, now, self._cancel)

    @_persisted
    def status(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        return self._answer(request, VenueAction.STATUS, now, self._status)

    @_persisted
    def refuse(self, request: VenueRequest, reason: str, now: int) -> list[ExecutionReport]:
        """Refuse a request without looking at it (e.g. over a rate limit).

        A NEW gets REJECTED, a REPLACE or CANCEL gets CANCEL_REJECTED; idempotent
        by request id like every request (a request already answered gets its
        first answer again).
        """

        def refuse(req: VenueRequest, ts: int) -> list[ExecutionReport]:
            if req.action is VenueAction.NEW:
                return [self._reject_new(req, reason, ts)]
            return [self._cancel_reject(req, self._find(req), reason, ts)]

        return self._answer(request, request.action, now, refuse)

    def seen(self, request_id: str) -> bool:
        """Whether a request with this id was already answered."""
        return request_id in self._answers

    def _answer(self, request: VenueRequest, action: VenueAction, now: int, handler) -> list[ExecutionReport]:
        if request.venue != self.name:
            raise ValueError(f"venue: request for {request.venue!r} sent to venue {self.name!r}")
        if request.action is not action:
            raise ValueError(f"action: {request.action.value} request passed where {action.value} is expected")
        previous = self._answers.get(request.request_id)
        if previous is not None:
            return list(previous)
        reports = handler(request, self._stamp(now))
        self._answers[request.request_id] = tuple(reports)
        self._dirty_answers.add(request.request_id)
        return reports

    def _submit(self, request: VenueRequest, ts: int) -> list[ExecutionReport]:
        draw = self._rng.random()
        reason = None
        if request.order_type is OrderType.LIMIT and request.limit_price is None:
            reason = "limit order needs a limit price"
        elif (live := self._by_order_id.get(request.order_id)) is not None and live.working:
            reason = f"order {request.order_id} is already working at {self.name}"
        elif draw < self.config.reject_probability:
            reason = "simulated venue reject"
        elif request.order_type is OrderType.MARKET and request.instrument not in self._books:
            reason = "no market"
        if reason is not None:
            return [self._reject_new(request, reason, ts)]

        self._order_seq += 1
        order = self._new_order(request)
        order.arrival = self._order_seq
        order.venue_order_id = f"{self._prefix}-O{self._order_seq}"
        if len(order.venue_order_id) > _MAX_ID:
            order.wire_checked = False
        self._register(order, order.venue_order_id)
        order.status = OrderStatus.NEW
        order.working = True
        self._live[order.venue_order_id] = order
        self._by_order_id[order.order_id] = order
        out = [self._report(order, ExecType.NEW, ts)]

        if order.time_in_force is TimeInForce.FOK:
            if sum((qty for _, qty in self._available(order)), ZERO) >= order.leaves:
                out += self._try_fill(order, ts)
            else:
                out.append(self._close(order, OrderStatus.CANCELED, ExecType.CANCELED, ts,
                                       reason="FOK: not enough displayed liquidity"))
            return out
        out += self._try_fill(order, ts)
        if order.time_in_force is TimeInForce.IOC and order.working:
            out.append(self._close(order, OrderStatus.CANCELED, ExecType.CANCELED, ts,
                                   reason="IOC: unfilled quantity canceled"))
        return out

    def _amend(self, request: VenueRequest, ts: int) -> list[ExecutionReport]:
        order = self._find(request)
        if order is None:
            return [self._cancel_reject(request, None, "unknown order", ts)]
        if not order.working:
            return [self._cancel_reject(request, order, f"order is {order.status.value}", ts)]
        if request.side is not order.side or request.instrument != order.instrument:
            return [self._cancel_reject(request, order, "a replace cannot change side or instrument", ts)]
        order.request_id = request.request_id
        self._by_request[request.request_id] = order
        order.request_ids.append(request.request_id)
        order.quantity = request.quantity
        if order.order_type is OrderType.LIMIT and request.limit_price is not None:
            order.limit_price = request.limit_price
        if order.quantity <= order.cum_qty:
            return [self._close(order, OrderStatus.FILLED, ExecType.REPLACED, ts)]
        order.status = OrderStatus.PARTIALLY_FILLED if order.cum_qty > 0 else OrderStatus.NEW
        out = [self._report(order, ExecType.REPLACED, ts)]
        out += self._try_fill(order, ts)
        return out

    def _cancel(self, request: VenueRequest, ts: int) -> list[ExecutionReport]:
        order = self._find(request)
        if order is None:
            return [self._cancel_reject(request, None, "unknown order", ts)]
        if not order.working:
            return [self._cancel_reject(request, order, f"order is already {order.status.value}", ts)]
        self._by_request[request.request_id] = order
        order.request_ids.append(request.request_id)
        rest = order.leaves
        out = [self._close(order, OrderStatus.CANCELED, ExecType.CANCELED, ts, request_id=request.request_id)]
        if self.config.late_fill_probability > 0 and self._rng.random() < self.config.late_fill_probability:
            px = order.limit_price
            if px is None and (book := self._books.get(order.instrument)) is not None:
                px = book.taking(order.side)[0][0]
            qty = (rest / 2).quantize(Decimal(1), rounding=ROUND_DOWN) if rest > 1 else rest
            if px is not None and qty > 0:
                out.append(self._late(order, qty, px, ts))
        return out

    def _status(self, request: VenueRequest, ts: int) -> list[ExecutionReport]:
        """ORDER_STATUS (FIX 150=I): the order's state here, changing nothing; an order this venue
        does not hold is reported REJECTED with OrdRejReason UNKNOWN_ORDER."""
        order = self._by_order_id.get(request.order_id)
        if order is None or order.account != request.account:
            unknown = VenueOrder(
                account=request.account, order_id=request.order_id, request_id=request.request_id,
                instrument=request.instrument, side=request.side, order_type=request.order_type,
                time_in_force=request.time_in_force, quantity=request.quantity,
                limit_price=request.limit_price, status=OrderStatus.REJECTED,
            )
            report = self._report(unknown, ExecType.ORDER_STATUS, ts, reason="unknown order")
            return [report.model_copy(update={"ord_rej_reason": OrderRejectReason.UNKNOWN_ORDER})]
        report = self._report(order, ExecType.ORDER_STATUS, ts, request_id=request.request_id)
        if order.status is OrderStatus.SUSPENDED:
            report = report.model_copy(update={"leaves_qty": order.quantity - order.cum_qty})
        return [report]

    # --------------------------------------------------------- market data

    def displayed(self, instrument: str) -> tuple[tuple[Level, ...], tuple[Level, ...]] | None:
        """The instrument's displayed book as this venue holds it: (bids, asks) as (price, size left)
        levels, best first (fills take size from them until the next quote); None before any quote."""
        book = self._books.get(instrument)
        if book is None:
            return None
        return tuple((p, s) for p, s in book.bids), tuple((p, s) for p, s in book.asks)

    def on_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        """A new quote is the instrument's displayed liquidity; resting orders it crosses fill (maker)."""
        if quote.venue is not None and quote.venue != self.name:
            return []
        self._books[quote.instrument] = _Book.of(quote)
        if not self._live:  # nothing rests: only the book changed (quotes are not kept in the store)
            return []
        return self._match_quote(quote, now)

    @_persisted
    def _match_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        resting = [o for o in self._live.values() if o.instrument == quote.instrument]
        if not resting:
            return []
        ts = self._stamp(now)
        out = []
        chance = self.config.resting_fill_probability
        for side in (Side.BUY, Side.SELL):
            for order in sorted((o for o in resting if o.side is side), key=VenueOrder.priority):
                if chance < 1 and self._rng.random() >= chance:
                    continue
                out += self._try_fill(order, ts, Liquidity.MAKER)
        return out

    def on_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        """With `fill_on_trades`: resting limits the print reaches fill at their limit (maker), in
        priority order, each after what `queue_ahead` gives to the size queued before it."""
        if not self.config.fill_on_trades or (trade.venue is not None and trade.venue != self.name):
            return []
        if not self._live:
            return []
        return self._match_trade(trade, now)

    @_persisted
    def _match_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        resting = [
            o for o in self._live.values()
            if o.instrument == trade.instrument and o.order_type is OrderType.LIMIT and o.limit_price is not None
            and (o.limit_price >= trade.price if o.side is Side.BUY else o.limit_price <= trade.price)
        ]
        if not resting:
            return []
        ts = self._stamp(now)
        out, remaining = [], trade.size
        checked = True
        for order in sorted(resting, key=VenueOrder.priority):
            if order.limit_price == trade.price:
                eaten = self.queue_ahead(order, remaining)
                if eaten and not fits_wire(eaten):
                    checked = False
                remaining -= eaten
            qty = min(order.leaves, remaining)
            if qty <= 0:
                continue  # every order at the print's price still hears of it (`queue_ahead`)
            if not checked:
                order.wire_checked = False
            out.append(self._execute(order, qty, order.limit_price, ts, Liquidity.MAKER))
            remaining -= qty
        return out

    # --------------------------------------------------------------- views

    def open_orders(self) -> list[OpenOrder]:
        return [
            OpenOrder(
                venue=self.name, venue_order_id=o.venue_order_id, account=o.account, order_id=o.order_id,
                request_id=o.request_id, instrument=o.instrument, side=o.side, order_type=o.order_type,
                time_in_force=o.time_in_force, quantity=o.quantity, limit_price=o.limit_price,
                cum_qty=o.cum_qty, leaves_qty=o.leaves, avg_px=o.avg_px, status=o.status,
            )
            for o in self._live.values()
        ]

    def fills(self, since_ns: int = 0) -> list[ExecutionReport]:
        """Fill, bust and correction reports with `ts_event >= since_ns`, in the order they happened."""
        return [r for r in self._fill_log if r.ts_event >= since_ns]

    # ------------------------------------------------------ venue-side events

    @_persisted
    def bust(self, exec_id: str, now: int, reason: str = "trade busted by the venue") -> list[ExecutionReport]:
        """Bust a fill: a TRADE_BUST report naming it in `ref_exec_id`."""
        fill = self._live_fill(exec_id)
        order = fill.order
        fill.busted = True
        self._dirty_fills.add(exec_id)
        order.cum_qty -= fill.qty
        order.notional = _CTX.subtract(order.notional, _CTX.multiply(fill.qty, fill.px))
        self._restate(order)
        report = self._report(order, ExecType.TRADE_BUST, self._stamp(now), last_qty=fill.qty, last_px=fill.px,
                              ref_exec_id=exec_id, reason=reason)
        self._fill_log.append(report)
        return [report]

    @_persisted
    def correct(
        self, exec_id: str, qty: Decimal, px: Decimal, now: int, reason: str = "trade corrected by the venue"
    ) -> list[ExecutionReport]:
        """Correct a fill's quantity and price: a TRADE_CORRECT report naming it in `ref_exec_id`."""
        qty, px = Decimal(qty), Decimal(px)
        if qty <= 0 or px <= 0 or qty != qty.quantize(_Q) or px != px.quantize(_Q):
            raise ValueError(f"qty, px: a correction needs a positive quantity and price of at most 8 places, "
                             f"got {qty} @ {px}")
        fill = self._live_fill(exec_id)
        order = fill.order
        new_cum = order.cum_qty - fill.qty + qty
        if new_cum > order.quantity and new_cum > order.cum_qty:
            raise ValueError(f"qty: the correction would fill {new_cum} of an order for {order.quantity}")
        order.cum_qty = new_cum
        order.notional = _CTX.add(
            _CTX.subtract(order.notional, _CTX.multiply(fill.qty, fill.px)), _CTX.multiply(qty, px)
        )
        fill.qty, fill.px = qty, px
        if not (fits_wire(qty) and fits_wire(px)):
            order.wire_checked = False
        self._dirty_fills.add(exec_id)
        self._restate(order)
        report = self._report(order, ExecType.TRADE_CORRECT, self._stamp(now), last_qty=qty, last_px=px,
                              ref_exec_id=exec_id, reason=reason)
        self._fill_log.append(report)
        return [report]

    @_persisted
    def cancel_unsolicited(
        self, order_id: str, now: int, reason: str = "canceled by the venue"
    ) -> list[ExecutionReport]:
        """The venue cancels a working order on its own; nothing if the order is not working here."""
        order = self._by_order_id.get(order_id)
        if order is None or not order.working:
            return []
        return [self._close(order, OrderStatus.CANCELED, ExecType.CANCELED, self._stamp(now), reason=reason)]

    @_persisted
    def late_fill(self, order_id: str, qty: Decimal, px: Decimal, now: int) -> list[ExecutionReport]:
        """An execution that crossed the order's end here: a fill on an order already
        canceled, expired or done for the day; the status stays, cum qty grows."""
        order = self._by_order_id.get(order_id)
        qty, px = Decimal(qty), Decimal(px)
        if order is None or order.working or qty <= 0 or px <= 0 or order.cum_qty + qty > order.quantity:
            return []
        if not (fits_wire(qty) and fits_wire(px)):
            order.wire_checked = False
        return [self._late(order, qty, px, self._stamp(now))]

    def _late(self, order: VenueOrder, qty: Decimal, px: Decimal, ts: int) -> ExecutionReport:
        """A fill of `qty` at `px` on an order no longer working; its status stays."""
        order.cum_qty += qty
        order.notional = _CTX.add(order.notional, _CTX.multiply(qty, px))
        exec_type = ExecType.FILL if order.cum_qty >= order.quantity else ExecType.PARTIAL_FILL
        report = self._report(order, exec_type, ts, last_qty=qty, last_px=px)
        self._fills[report.exec_id] = _Fill(report.exec_id, order, qty, px)
        self._dirty_fills.add(report.exec_id)
        self._fill_log.append(report)
        return report

    @_persisted
    def restate(
        self, order_id: str, now: int, *, quantity: Decimal | None = None, limit_price: Decimal | None = None,
        why: RestatementReason = RestatementReason.OTHER, reason: str | None = None,
    ) -> list[ExecutionReport]:
        """The venue changes a working (or suspended) order unsolicited: a RESTATED report."""
        order = self._by_order_id.get(order_id)
        if order is None or not (order.working or order.status is OrderStatus.SUSPENDED):
            return []
        if quantity is not None:
            order.quantity = max(Decimal(quantity), order.cum_qty)
            if not fits_wire(order.quantity):
                order.wire_checked = False
        if limit_price is not None and order.order_type is OrderType.LIMIT:
            order.limit_price = Decimal(limit_price)
            if not (order.limit_price > 0 and fits_wire(order.limit_price)):
                order.wire_checked = False
        order.working = True
        order.status = OrderStatus.PARTIALLY_FILLED if order.cum_qty > 0 else OrderStatus.NEW
        if order.venue_order_id is not None:
            self._live[order.venue_order_id] = order
        report = self._report(order, ExecType.RESTATED, self._stamp(now), reason=reason)
        return [report.model_copy(update={"restatement_reason": why})]

    @_persisted
    def suspend(self, order_id: str, now: int, reason: str = "trading halt") -> list[ExecutionReport]:
        """The venue suspends a working order (it stops matching until `resume`)."""
        order = self._by_order_id.get(order_id)
        if order is None or not order.working:
            return []
        order.working, order.status = False, OrderStatus.SUSPENDED
        self._live.pop(order.venue_order_id, None)
        report = self._report(order, ExecType.SUSPENDED, self._stamp(now), reason=reason)
        return [report.model_copy(update={"leaves_qty": order.quantity - order.cum_qty})]

    @_persisted
    def resume(self, order_id: str, now: int) -> list[ExecutionReport]:
        """The venue resumes a suspended order: a RESTATED report with reason RESUMED."""
        order = self._by_order_id.get(order_id)
        if order is None or order.status is not OrderStatus.SUSPENDED:
            return []
        return self.restate(order_id, now, why=RestatementReason.RESUMED, reason="resumed")

    # ---------------------------------------------------------- the store

    def _persist(self) -> None:
        """Write the orders, fills, answers and fill log entries changed since the last write,
        and the counters, in one batch."""
        if self._store is None:
            self._dirty_orders.clear(), self._dirty_fills.clear(), self._dirty_answers.clear()
            return
        if not (self._dirty_orders or self._dirty_fills or self._dirty_answers
                or self._logged < len(self._fill_log)):
            return
        items = [(b"o/" + key.encode(), _dump_order(order)) for key, order in self._dirty_orders.items()]
        for exec_id in self._dirty_fills:
            fill = self._fills[exec_id]
            items.append((b"f/" + exec_id.encode(), json.dumps(
                {"order": fill.order.key, "qty": str(fill.qty), "px": str(fill.px), "busted": fill.busted}).encode()))
        for request_id in self._dirty_answers:
            answer = [r.model_dump_json() for r in self._answers[request_id]]
            items.append((b"a/" + request_id.encode(), json.dumps(answer).encode()))
        for n in range(self._logged, len(self._fill_log)):
            items.append((b"l/%012d" % n, self._fill_log[n].model_dump_json().encode()))
        items.append((b"m", json.dumps({"exec_seq": self._exec_seq, "order_seq": self._order_seq,
                                        "created_seq": self._created_seq, "last_ts": self._last_ts}).encode()))
        self._store.write_batch(items)
        self._logged = len(self._fill_log)
        self._dirty_orders.clear(), self._dirty_fills.clear(), self._dirty_answers.clear()

    def _restore(self) -> int:
        """Read the book back from the store; returns how many orders it held."""
        meta = self._store.get(b"m")
        if meta is None:
            return 0
        counters = json.loads(meta)
        self._exec_seq, self._order_seq = counters["exec_seq"], counters["order_seq"]
        self._created_seq, self._last_ts = counters["created_seq"], counters["last_ts"]
        orders = {key.decode()[2:]: _load_order(value) for key, value in self._store.items(b"o/")}
        for order in sorted(orders.values(), key=lambda o: o.created):
            for request_id in order.request_ids:
                self._by_request[request_id] = order
            current = self._by_order_id.get(order.order_id)
            if order.venue_order_id is not None or current is None or not current.working:
                self._by_order_id[order.order_id] = order
        for order in sorted((o for o in orders.values() if o.working), key=lambda o: o.arrival):
            self._live[order.venue_order_id] = order
        for key, value in self._store.items(b"f/"):
            record = json.loads(value)
            exec_id = key.decode()[2:]
            self._fills[exec_id] = _Fill(exec_id, orders[record["order"]], Decimal(record["qty"]),
                                         Decimal(record["px"]), record["busted"])
        for key, value in self._store.items(b"a/"):
            self._answers[key.decode()[2:]] = tuple(ExecutionReport.model_validate_json(r) for r in json.loads(value))
        self._fill_log = [ExecutionReport.model_validate_json(v) for _, v in self._store.items(b"l/")]
        self._logged = len(self._fill_log)
        return len(orders)

    # ------------------------------------------------------------ internals

    def _stamp(self, now: int) -> int:
        """The `ts_event` of the reports caused by an input at `now` (one latency draw)."""
        delay = self.config.latency_ns
        if self.config.latency_jitter_ns:
            delay += self._rng.randint(-self.config.latency_jitter_ns, self.config.latency_jitter_ns)
        self._last_ts = max(now + max(delay, 0), self._last_ts)
        return self._last_ts

    def _next_exec_id(self) -> str:
        self._exec_seq += 1
        return f"{self._prefix}-{self._exec_seq}"

    def _new_order(self, request: VenueRequest) -> VenueOrder:
        order = VenueOrder(
            account=request.account, order_id=request.order_id, request_id=request.request_id,
            instrument=request.instrument, side=request.side, order_type=request.order_type,
            time_in_force=request.time_in_force, quantity=request.quantity,
            limit_price=request.limit_price if request.order_type is OrderType.LIMIT else None,
        )
        self._created_seq += 1
        order.created = self._created_seq
        self._by_request[request.request_id] = order
        order.request_ids.append(request.request_id)
        return order

    def _register(self, order: VenueOrder, key: str) -> None:
        """Give a new order its store key (it is then written whenever a report concerns it)."""
        order.key = key
        self._dirty_orders[key] = order

    def _find(self, request: VenueRequest) -> VenueOrder | None:
        order = self._by_request.get(request.orig_request_id) if request.orig_request_id else None
        if order is None:
            order = self._by_order_id.get(request.order_id)
        if order is None or order.account != request.account or order.order_id != request.order_id:
            return None
        return order

    def _live_fill(self, exec_id: str) -> _Fill:
        fill = self._fills.get(exec_id)
        if fill is None:
            raise KeyError(f"exec_id: {exec_id!r} is not a fill of venue {self.name}")
        if fill.busted:
            raise ValueError(f"exec_id: fill {exec_id} is already busted")
        return fill

    def _restate(self, order: VenueOrder) -> None:
        """The status after a bust or correction changed `cum_qty`."""
        if order.working:
            if order.cum_qty >= order.quantity:
                order.status, order.working = OrderStatus.FILLED, False
                self._live.pop(order.venue_order_id, None)
            else:
                order.status = OrderStatus.PARTIALLY_FILLED if order.cum_qty > 0 else OrderStatus.NEW
        elif order.status in _CLOSED_BY_FILLS:
            order.status = OrderStatus.FILLED if order.cum_qty >= order.quantity else OrderStatus.DONE_FOR_DAY

    def _available(self, order: VenueOrder) -> list[tuple[list[Decimal], Decimal]]:
        """What the order could take from the book now: (level, quantity) for each displayed level
        within its limit, best first (a level's size left, times `max_fill_fraction`); empty if none."""
        book = self._books.get(order.instrument)
        if book is None:
            return []
        out = []
        fraction = self.config.max_fill_fraction
        buy = order.side is Side.BUY
        for level in book.taking(order.side):
            px, size = level
            if order.order_type is OrderType.LIMIT and (order.limit_price < px if buy else order.limit_price > px):
                break  # levels are best first: the rest are past the limit too
            if fraction < 1:
                size = min(size, _CTX.multiply(size, fraction).quantize(_Q, rounding=ROUND_DOWN, context=_CTX))
            if size > 0:
                out.append((level, size))
        return out

    def _try_fill(self, order: VenueOrder, ts: int, liquidity: Liquidity = Liquidity.TAKER) -> list[ExecutionReport]:
        """Fill what the displayed levels within the order's limit give, one report per level taken."""
        out = []
        for level, available in self._available(order):
            qty = min(available, order.leaves)
            if qty <= 0:
                break
            out.append(self._take(order, level, qty, ts, liquidity))
        return out

    def _take(self, order: VenueOrder, level: list[Decimal], qty: Decimal, ts: int,
              liquidity: Liquidity = Liquidity.TAKER) -> ExecutionReport:
        """Fill `qty` against one displayed level, consuming its size, at `fill_price`."""
        px = level[0]
        level[1] -= qty
        priced = self.fill_price(order, px, qty, liquidity)
        if priced is not px and not _fits_price(priced):
            order.wire_checked = False
        return self._execute(order, qty, priced, ts, liquidity)

    def _execute(self, order: VenueOrder, qty: Decimal, px: Decimal, ts: int,
                 liquidity: Liquidity = Liquidity.TAKER) -> ExecutionReport:
        order.cum_qty += qty
        order.notional = _CTX.add(order.notional, _CTX.multiply(qty, px))
        if order.cum_qty >= order.quantity:
            order.status, order.working = OrderStatus.FILLED, False
            self._live.pop(order.venue_order_id, None)
            exec_type = ExecType.FILL
        else:
            order.status = OrderStatus.PARTIALLY_FILLED
            exec_type = ExecType.PARTIAL_FILL
        fees = self.config.fees
        commission = fees.fee(qty, px, liquidity).quantize(_Q, rounding=ROUND_HALF_EVEN) if fees is not None else ZERO
        report = self._report(order, exec_type, ts, last_qty=qty, last_px=px, commission=commission)
        self._fills[report.exec_id] = _Fill(report.exec_id, order, qty, px)
        self._dirty_fills.add(report.exec_id)
        self._fill_log.append(report)
        return report

    def _close(
        self, order: VenueOrder, status: OrderStatus, exec_type: ExecType, ts: int, *,
        request_id: str | None = None, reason: str | None = None,
    ) -> ExecutionReport:
        order.status, order.working = status, False
        self._live.pop(order.venue_order_id, None)
        if request_id is not None:
            order.request_id = request_id
        return self._report(order, exec_type, ts, reason=reason)

    def _reject_new(self, request: VenueRequest, reason: str, ts: int) -> ExecutionReport:
        order = self._new_order(request)
        order.status = OrderStatus.REJECTED
        self._register(order, f"R:{request.request_id}")
        if order.order_id not in self._by_order_id or not self._by_order_id[order.order_id].working:
            self._by_order_id[order.order_id] = order
        return self._report(order, ExecType.REJECTED, ts, reason=reason)

    def _cancel_reject(
        self, request: VenueRequest, order: VenueOrder | None, reason: str, ts: int
    ) -> ExecutionReport:
        if order is None:
            order = VenueOrder(
                account=request.account, order_id=request.order_id, request_id=request.request_id,
                instrument=request.instrument, side=request.side, order_type=request.order_type,
                time_in_force=request.time_in_force, quantity=request.quantity,
                limit_price=request.limit_price, status=OrderStatus.REJECTED,
            )
        return self._report(order, ExecType.CANCEL_REJECTED, ts, request_id=request.request_id, reason=reason)

    def _report(
        self, order: VenueOrder, exec_type: ExecType, ts: int, *, request_id: str | None = None,
        last_qty: Decimal = ZERO, last_px: Decimal = ZERO, ref_exec_id: str | None = None, reason: str | None = None,
        commission: Decimal = ZERO,
    ) -> ExecutionReport:
        exec_id = self._next_exec_id()
        if order.key is not None:
            self._dirty_orders[order.key] = order
        fields = dict(
            event_id=exec_id,
            ts_event=ts,
            ts_init=ts,
            venue=self.name,
            account=order.account,
            order_id=order.order_id,
            request_id=request_id or order.request_id,
            exec_id=exec_id,
            exec_type=exec_type,
            order_status=order.status,
            instrument=order.instrument,
            side=order.side,
            order_qty=order.quantity,
            last_qty=last_qty,
            last_px=last_px,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves,
            avg_px=order.avg_px,
            limit_price=order.limit_price,
            venue_order_id=order.venue_order_id,
            ref_exec_id=ref_exec_id,
            reason=reason,
            commission=commission,
        )
        # The fast path (`oms.events.built`) only for values known valid: the order's names and amounts
        # come from a validated request or quote, or were checked where they came in
        # (`VenueOrder.wire_checked`; sums, differences, minima and 8-place quantizations of fitting
        # amounts fit too); the exec id minted here is checked by length (its characters are the
        # venue name's and digits); the time and reason, which callers pass, here.
        if (order.wire_checked and len(exec_id) <= _MAX_ID and type(ts) is int and 0 <= ts < _MAX_NS
                and (reason is None or (type(reason) is str and len(reason) <= _MAX_TEXT))):
            return built(ExecutionReport, **fields)
        return ExecutionReport(**fields)
