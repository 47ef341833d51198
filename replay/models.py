"""The backtest's venue models: latency, fills with queue position, slippage and impact, rejects, failures, outages.

This module owns how a simulated venue behaves in a backtest, on top of the
project's simulated exchange (`oms.venues.simulated.SimulatedExchange`: order
acceptance, random rejects, fills at the touch by displayed size, each quote's
size consumed once so no two orders fill from the same liquidity). What it adds:

- `Latency`: a delay in ns, fixed or drawn (uniform in `fixed_ns +- jitter_ns`,
  or lognormal with median `fixed_ns` and shape `sigma`), from the venue's own
  seeded generator. `VenueModel.entry` delays requests to the venue and its
  reports back; `VenueModel.market_data` delays quotes and trades to the strategy.
- `QueueExchange`: a resting limit order joins the back of the queue at its
  price: the size displayed there when it arrives (0 when it improves the touch;
  the size shown when the touch first reaches it when it rests behind) is ahead
  of it. A trade print at its price first eats the size ahead, and only what is
  left fills the order; a print through its price fills it (up to the print's
  size). Fills of resting orders (by prints or by a quote crossing them) are
  passive (maker); fills on arrival are taker.
- Slippage and impact: a taker fill's price moves against the order by
  `slippage_bps` plus `impact_bps_per_unit` times its quantity (exact Decimal,
  rounded to the venue's `tick`).
- `reject_probability` (the exchange's own draw), `api_failure_probability`
  (a request gets no answer: with probability `failure_after_venue` the venue
  took it and its answer was lost, else the request was lost before the venue
  saw it; the runner finds out which at the request's deadline, by a status
  query and the reconciliation) and `outages` (windows in which the venue is
  unavailable): failures feed the runner's circuit breaker.
- Fees: the venue's fee schedule (`oms.domain.sor.fees.FeeSchedule`, the one
  smart routing weighs: `OMS_VENUE_FEES` read by `parse_fees`), charged by the
  exchange itself as each fill's commission - taker when the order took
  liquidity on arrival, maker (negative: a rebate) when it filled resting - so
  the journal carries it as the live venue gateway's would. The older
  `maker_fee_bps` and `taker_fee_bps` fields still work: they are a schedule in
  basis points (`VenueModel.schedule`); giving both forms is refused.

Everything is pure and seeded: the same seed and inputs give the same draws.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from oms.domain.sor.fees import FeeSchedule, FeeUnit, Liquidity
from oms.events import ExecutionReport, OrderType, Quote, Side, Trade, VenueRequest
from oms.venues.simulated import SimulatedExchange, SimulatedVenueConfig, VenueOrder

__all__ = ["Latency", "Outage", "QueueExchange", "VenueModel", "parse_venue"]

_BPS = Decimal("0.0001")
_COMMISSION = Decimal(1).scaleb(-8)
"""Commissions are kept to 8 places, as the simulated exchange reports them."""


@dataclass(frozen=True)
class Latency:
    """A delay in ns: `fixed_ns`, plus uniform `jitter_ns` either way, or lognormal around it (`sigma` > 0)."""

    fixed_ns: int = 0
    jitter_ns: int = 0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.fixed_ns < 0 or self.jitter_ns < 0 or self.sigma < 0:
            raise ValueError("latency: fixed_ns, jitter_ns and sigma cannot be negative")

    def draw(self, rng: random.Random) -> int:
        if self.sigma > 0 and self.fixed_ns > 0:
            return int(self.fixed_ns * math.exp(rng.gauss(0.0, self.sigma)))
        if self.jitter_ns:
            return max(0, self.fixed_ns + rng.randint(-self.jitter_ns, self.jitter_ns))
        return self.fixed_ns

    @classmethod
    def parse(cls, spec: str) -> "Latency":
        """`500us`, `2ms+-1ms`, `1ms~0.5` (lognormal sigma 0.5); units ns, us, ms, s."""
        spec = spec.strip()
        sigma = 0.0
        if "~" in spec:
            spec, s = spec.split("~", 1)
            sigma = float(s)
        fixed, _, jitter = spec.partition("+-")
        return cls(_duration(fixed), _duration(jitter) if jitter else 0, sigma)


def _duration(text: str) -> int:
    text = text.strip()
    for unit, scale in (("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)):
        if text.endswith(unit):
            return int(Decimal(text[: -len(unit)]) * scale)
    return int(Decimal(text))


@dataclass(frozen=True)
class Outage:
    """The venue is unavailable from `start_ns` (inclusive) to `end_ns` (exclusive)."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError(f"outage: end {self.end_ns} is not after start {self.start_ns}")


@dataclass(frozen=True)
class VenueModel:
    """How one venue behaves in a backtest (see the module docstring); the default is perfect and free."""

    entry: Latency = Latency()
    market_data: Latency = Latency()
    reject_probability: float = 0.0
    api_failure_probability: float = 0.0
    failure_after_venue: float = 0.5
    """Of the API failures, the share where the venue took the request and only its answer was lost."""
    outages: tuple[Outage, ...] = ()
    slippage_bps: Decimal = Decimal(0)
    impact_bps_per_unit: Decimal = Decimal(0)
    tick: Decimal = Decimal("0.01")
    fees: FeeSchedule | None = None
    """The venue's fee schedule (None: `maker_fee_bps` and `taker_fee_bps`, if any, else no fees)."""
    maker_fee_bps: Decimal = Decimal(0)
    taker_fee_bps: Decimal = Decimal(0)
    queue_position: bool = True
    """Passive fills wait for the size ahead in the queue (False: every print at the price fills)."""
    max_fill_fraction: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        for name in ("reject_probability", "api_failure_probability", "failure_after_venue"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: {getattr(self, name)} is not in [0, 1]")
        if self.fees is not None and (self.maker_fee_bps or self.taker_fee_bps):
            raise ValueError("fees: give a fee schedule or maker_fee_bps/taker_fee_bps, not both")

    def down(self, now: int) -> bool:
        return any(o.start_ns <= now < o.end_ns for o in self.outages)

    @property
    def schedule(self) -> FeeSchedule | None:
        """The fee schedule the venue charges: `fees`, else the bps fields as one, else None (free)."""
        if self.fees is not None:
            return self.fees
        if self.maker_fee_bps or self.taker_fee_bps:
            return FeeSchedule(Decimal(self.taker_fee_bps), Decimal(self.maker_fee_bps), FeeUnit.BPS)
        return None

    def with_fees(self, fees: FeeSchedule) -> "VenueModel":
        """This model charging `fees`; refused when it already has another schedule."""
        if self.schedule is not None and self.schedule != fees:
            raise ValueError(f"fees: the venue already charges {self.schedule}, not {fees}")
        return replace(self, fees=fees, maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0))

    def fee(self, quantity: Decimal, price: Decimal, passive: bool) -> Decimal:
        """What a fill of `quantity` at `price` costs (negative: a rebate), as the exchange charges it."""
        schedule = self.schedule
        if schedule is None:
            return Decimal(0)
        return schedule.fee(quantity, price, Liquidity.MAKER if passive else Liquidity.TAKER).quantize(
            _COMMISSION, rounding=ROUND_HALF_EVEN)


@dataclass
class _Queue:
    instrument: str
    side: Side
    price: Decimal
    ahead: Decimal | None
    """Size ahead at the order's price; None while the touch has not reached it."""


class QueueExchange(SimulatedExchange):
    """The simulated exchange with queue position for resting limits, slippage and impact on fills
    taken from the book, and each fill marked passive or not (`passive(exec_id)`). Built on the
    exchange's public hooks only (`fill_price`, `queue_ahead`, `order`, `working`, `touch`)."""

    def __init__(self, name: str, seed: int, model: VenueModel) -> None:
        super().__init__(name, seed, SimulatedVenueConfig(reject_probability=model.reject_probability,
                                                          max_fill_fraction=model.max_fill_fraction,
                                                          fill_on_trades=True, fees=model.schedule))
        self.model = model
        self._queues: dict[str, _Queue] = {}
        self._passive: set[str] = set()

    def passive(self, exec_id: str) -> bool:
        return exec_id in self._passive

    def _join(self, order: VenueOrder) -> None:
        """Queue a resting limit order behind what is displayed at its price."""
        touch = self.touch(order.instrument, order.side)
        px = order.limit_price
        if touch is None:
            ahead = None
        elif px == touch[0]:
            ahead = touch[1]
        elif (px > touch[0]) if order.side is Side.BUY else (px < touch[0]):
            ahead = Decimal(0)
        else:
            ahead = None
        self._queues[order.venue_order_id] = _Queue(order.instrument, order.side, px, ahead)

    def submit(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        reports = super().submit(request, now)
        order = self.order(request.order_id)
        if order is not None and order.working and order.order_type is OrderType.LIMIT:
            self._join(order)
        return reports

    def amend(self, request: VenueRequest, now: int) -> list[ExecutionReport]:
        reports = super().amend(request, now)
        order = self.order(request.order_id)
        if order is not None and order.working and order.order_type is OrderType.LIMIT:
            queue = self._queues.get(order.venue_order_id)
            if queue is None or queue.price != order.limit_price:
                self._join(order)  # a new price loses the place in the queue
        return reports

    def on_quote(self, quote: Quote, now: int) -> list[ExecutionReport]:
        reports = super().on_quote(quote, now)
        if reports:
            self._passive.update(r.exec_id for r in reports)  # resting orders the new quote crossed
        if self._queues:
            for queue in self._queues.values():
                if queue.ahead is None and queue.instrument == quote.instrument:
                    touch = self.touch(queue.instrument, queue.side)
                    if touch is not None and touch[0] == queue.price:
                        queue.ahead = touch[1]
            self._forget()
        return reports

    def on_trade(self, trade: Trade, now: int) -> list[ExecutionReport]:
        reports = super().on_trade(trade, now)
        if reports:
            self._passive.update(r.exec_id for r in reports)
        if self._queues:
            self._forget()
        return reports

    def queue_ahead(self, order: VenueOrder, remaining: Decimal) -> Decimal:
        """The size queued ahead of `order` eats the print first (all of it while the touch has not
        reached the order's price); without `queue_position`, nothing is ahead."""
        queue = self._queues.get(order.venue_order_id) if self.model.queue_position else None
        if queue is None:
            return Decimal(0)
        ahead = queue.ahead if queue.ahead is not None else remaining
        eaten = min(ahead, remaining)
        queue.ahead = ahead - eaten
        return eaten

    def _forget(self) -> None:
        for vid in [v for v in self._queues if not self.working(v)]:
            del self._queues[vid]

    def fill_price(self, order: VenueOrder, px: Decimal, qty: Decimal, liquidity: Liquidity) -> Decimal:
        """`px` moved against the order by slippage and impact, on the venue's tick."""
        bps = self.model.slippage_bps + self.model.impact_bps_per_unit * qty
        if not bps:
            return px
        move = px * bps * _BPS
        tick = self.model.tick
        if order.side is Side.BUY:
            return ((px + move) / tick).to_integral_value(rounding=ROUND_CEILING) * tick
        return max(((px - move) / tick).to_integral_value(rounding=ROUND_FLOOR) * tick, tick)


_VENUE_KEYS = {"entry", "md", "reject", "fail", "fail_after", "outage", "slippage_bps", "impact_bps", "maker_bps", "taker_bps",
               "tick", "queue", "max_fill_fraction"}


def parse_venue(spec: str) -> tuple[str, VenueModel]:
    """`SIM-A:entry=200us+-50us,md=100us,reject=0.01,fail=0.001,fail_after=0.5,outage=START/END,slippage_bps=0.5,`
    `impact_bps=0.001,maker_bps=-0.2,taker_bps=0.3,tick=0.01,queue=on` → (name, model); every key optional.
    An outage's START/END are nanoseconds or ISO 8601 times (repeat `outage=` for several windows)."""
    from oms.clock import parse_time

    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"venue: {spec!r} does not start with a venue name")
    options: dict = {}
    outages = []
    for part in (p.strip() for p in rest.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _VENUE_KEYS:
            raise ValueError(f"venue: {part!r} in {name} is not KEY=VALUE with KEY one of {', '.join(sorted(_VENUE_KEYS))}")
        try:
            if key in ("entry", "md"):
                options["entry" if key == "entry" else "market_data"] = Latency.parse(value)
            elif key in ("reject", "fail", "fail_after"):
                options[{"reject": "reject_probability", "fail": "api_failure_probability",
                         "fail_after": "failure_after_venue"}[key]] = float(value)
            elif key == "outage":
                start, _, end = value.partition("/")
                outages.append(Outage(parse_time(start), parse_time(end)))
            elif key == "queue":
                options["queue_position"] = value.strip().lower() in ("on", "1", "true", "yes")
            else:
                field_name = {"slippage_bps": "slippage_bps", "impact_bps": "impact_bps_per_unit",
                              "maker_bps": "maker_fee_bps", "taker_bps": "taker_fee_bps", "tick": "tick",
                              "max_fill_fraction": "max_fill_fraction"}[key]
                options[field_name] = Decimal(value.strip())
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"venue: {key}={value!r} in {name}: {exc}") from None
    return name, VenueModel(outages=tuple(outages), **options)
