"""Property tests of the order aggregate: random histories never break an invariant.

This module owns the generative checks of `oms.domain.orders`: a hypothesis
state machine drives one order through random client commands and venue
reports — plausible ones (acks, fills within leaves, answers to pending
requests, busts and corrections of standing fills) mixed with invalid,
out-of-order, redelivered, malformed ones and ones reusing an applied exec id — folding every decision through
`evolve`. After every step: decisions returned events and never raised;
sequenced journal events are contiguous; for a live order cum + leaves ==
quantity, otherwise leaves == 0; cum_qty is never negative and equals the
standing fills, which the downstream `Fill` stream reproduces; avg_px lies
within the standing fills' prices; NEW/PARTIALLY_FILLED/FILLED agree with the
fill level; replaying the journal gives the same order.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, localcontext
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from oms.domain.orders import (
    LIVE_STATUSES,
    Order,
    decide_amend,
    decide_cancel,
    decide_report,
    evolve,
    fold,
)
from oms.events import (
    Event,
    ExecType,
    Fill,
    FillKind,
    JournalEvent,
    OrderAnomaly,
    OrderFillBusted,
    OrderFillCorrected,
    OrderFilled,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tests.builders import OrderHarness, amend, cancel, check_consistent, report

SETTINGS = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

quantities = st.one_of(
    st.integers(min_value=1, max_value=120).map(D),
    st.decimals(min_value=D("0.01"), max_value=D("120"), places=2),
)
prices = st.decimals(min_value=D("0.0001"), max_value=D("500"), places=4)
any_decimal = st.decimals(min_value=D("-1000"), max_value=D("1000"), places=8)
exec_types = st.sampled_from(list(ExecType))
statuses = st.sampled_from(list(OrderStatus))


class OrderMachine(RuleBasedStateMachine):
    """One order; every rule is a decision folded by the harness (which checks
    decide -> evolve consistency), then the invariants below."""

    def __init__(self) -> None:
        super().__init__()
        self.h = OrderHarness()
        self.reports: list = []
        self.n = 0

    def _cid(self) -> str:
        self.n += 1
        return f"req-{self.n}"

    def _send(self, rep) -> list[Event]:
        self.reports.append(rep)
        before = self.h.order
        events = self._check(self.h.send(rep))
        after = self.h.order
        # every report either changes the order or leaves an anomaly with a reason (or is a redelivery,
        # or a status report agreeing with the order: ExecType ORDER_STATUS changes nothing)
        if not events:
            assert rep.exec_id in before.exec_ids or rep.exec_type is ExecType.ORDER_STATUS
            assert after == before
        elif not any(isinstance(e, JournalEvent) and e.seq > 0 for e in events):
            assert any(isinstance(e, OrderAnomaly) and e.reason_code and e.reason for e in events), events
            assert after == before
        # cum qty never decreases except by a bust or a correction
        if after.cum_qty < before.cum_qty:
            assert any(isinstance(e, (OrderFillBusted, OrderFillCorrected)) for e in events), events
        return events

    def _check(self, events: list[Event]) -> list[Event]:
        assert isinstance(events, list)
        for e in events:
            assert not (isinstance(e, OrderAnomaly) and e.reason_code == "UNPROCESSABLE"), e
        return events

    @property
    def order(self) -> Order:
        assert self.h.order is not None
        return self.h.order

    @initialize(
        qty=quantities,
        px=prices,
        market=st.booleans(),
        tif=st.sampled_from(list(TimeInForce)),
        side=st.sampled_from(list(Side)),
        denied=st.integers(0, 9),  # hypothesis favours bounds: 7 is rare
        ack=st.integers(0, 4),
    )
    def start(self, qty, px, market, tif, side, denied, ack) -> None:
        kw = {"quantity": qty, "time_in_force": tif, "side": side}
        kw.update({"order_type": OrderType.MARKET} if market else {"limit_price": px})
        self._check(self.h.new(denial=("RISK", "denied") if denied == 7 else None, **kw))
        if ack != 3 and self.order.status is OrderStatus.PENDING_NEW:
            self._send(self.h.report(ExecType.NEW))

    # ------------------------------------------------------------ commands

    @rule(qty=st.none() | quantities, px=st.none() | prices)
    def amend(self, qty, px) -> None:
        if qty is None and px is None:
            qty = self.order.quantity + 1
        self._check(self.h.amend(self._cid(), quantity=qty, limit_price=px))

    @rule()
    def cancel(self) -> None:
        self._check(self.h.cancel(self._cid()))

    @rule()
    def duplicate_new(self) -> None:
        events = self._check(self.h.new(self.order.client_order_id))
        assert len(events) == 1 and events[0].seq == 0

    # ------------------------------------------------------ plausible venue

    @rule()
    def ack(self) -> None:
        self._send(self.h.report(ExecType.NEW))

    @rule(frac=st.sampled_from([40, 100, 25, 10, 1, 60]), px=prices, overfill=st.integers(0, 9))
    def fill(self, frac, px, overfill) -> None:
        leaves = self.order.quantity - self.order.cum_qty
        qty = (leaves * frac / 100).quantize(D("0.01")) if leaves > 0 else D(1)
        if overfill == 7 or qty <= 0:
            qty = max(leaves, D(0)) + D("0.01")
        kind = ExecType.FILL if self.order.cum_qty + qty >= self.order.quantity else ExecType.PARTIAL_FILL
        self._send(self.h.report(kind, last_qty=qty, last_px=px))

    @rule(frac=st.sampled_from([100, 50, 1]), px=prices)
    def fill_in_any_status(self, frac, px) -> None:
        """A fill is never lost whatever the order's status: a fresh, positive fill within the
        quantity is booked (and published) whether the order is working, pending, canceled,
        expired, done for the day or rejected."""
        room = self.order.quantity - self.order.cum_qty
        qty = (room * frac / 100).quantize(D("0.01"), rounding="ROUND_DOWN")
        if qty <= 0:
            return
        kind = ExecType.FILL if qty == room else ExecType.PARTIAL_FILL
        events = self._send(self.h.report(kind, last_qty=qty, last_px=px))
        booked = [e for e in events if isinstance(e, OrderFilled)]
        assert len(booked) == 1 and booked[0].last_qty == qty, events
        assert [f.quantity for f in events if isinstance(f, Fill)] == [qty]

    @rule(accept=st.integers(0, 3))
    def answer_pending(self, accept) -> None:
        """What a venue says to the pending request: mostly yes, sometimes no."""
        pending = self.order.pending
        if pending is None or accept == 2:
            kind = ExecType.CANCEL_REJECTED
        elif pending.kind.value == "CANCEL":
            kind = ExecType.CANCELED
        else:
            kind = ExecType.REPLACED
        self._send(self.h.report(kind))

    @rule(
        kind=st.sampled_from([ExecType.CANCELED, ExecType.EXPIRED, ExecType.REJECTED, ExecType.DONE_FOR_DAY]),
        gate=st.integers(0, 4),
    )
    def venue_ends_it(self, kind, gate) -> None:
        """Unsolicited cancels, IOC/DAY expiry, rejects: rarer, they end the order."""
        if gate == 3:
            self._send(self.h.report(kind))

    @precondition(lambda self: self.h.order is not None and bool(self.h.order.fills))
    @rule(i=st.integers(0, 50), old_id=st.booleans())
    def bust(self, i, old_id) -> None:
        f = self.order.fills[i % len(self.order.fills)]
        ref = f.supersedes[0] if old_id and f.supersedes else f.exec_id
        self._send(self.h.report(ExecType.TRADE_BUST, ref_exec_id=ref))

    @precondition(lambda self: self.h.order is not None and bool(self.h.order.fills))
    @rule(i=st.integers(0, 50), qty=quantities, px=prices)
    def correct(self, i, qty, px) -> None:
        f = self.order.fills[i % len(self.order.fills)]
        self._send(self.h.report(ExecType.TRADE_CORRECT, ref_exec_id=f.exec_id, last_qty=qty, last_px=px))

    # ------------------------------------------- invalid, stale, malformed

    @precondition(lambda self: bool(self.reports))
    @rule(i=st.integers(0, 1000))
    def redeliver(self, i) -> None:
        rep = self.reports[i % len(self.reports)]
        before = self.order
        events = self._check(self.h.send(rep))
        if rep.exec_id in before.exec_ids:
            assert events == [] and self.order == before

    @precondition(lambda self: self.h.order is not None and bool(self.h.order.execs))
    @rule(i=st.integers(0, 1000), qty=quantities, px=prices)
    def reuse_exec_id(self, i, qty, px) -> None:
        """A report that reuses an applied exec id to say something else is an anomaly, never applied."""
        record = self.order.execs[i % len(self.order.execs)]
        kind = ExecType.NEW if record.kind == "OrderFilled" else ExecType.PARTIAL_FILL
        before = self.order
        events = self._check(self.h.send(self.h.report(kind, record.exec_id, last_qty=qty, last_px=px)))
        assert [(type(e), e.reason_code) for e in events] == [(OrderAnomaly, "CONFLICTING_EXEC_ID")]
        assert self.order == before

    @rule(
        kind=exec_types,
        last_qty=any_decimal,
        last_px=any_decimal,
        ref=st.none() | st.sampled_from(["E1", "E2", "E3", "nope"]),
        status=statuses,
        other_account=st.integers(0, 9),
        gate=st.integers(0, 2),
    )
    def garbage(self, kind, last_qty, last_px, ref, status, other_account, gate) -> None:
        if gate != 1:
            return
        overrides = {"order_status": status}
        if other_account == 7:
            overrides["account"] = "ACC-OTHER"
        self._send(
            self.h.report(kind, last_qty=abs(last_qty), last_px=last_px, ref_exec_id=ref, **overrides)
        )

    @rule(kind=exec_types, qty=quantities, px=prices)
    def unknown_order(self, kind, qty, px) -> None:
        rep = report(None, kind, f"U{self.n}", last_qty=qty, last_px=px, order_id="O-unknown")
        (anomaly,) = self._check(decide_report(rep, None, self.h.now))
        assert isinstance(anomaly, OrderAnomaly) and anomaly.seq == 0 and anomaly.reason_code == "UNKNOWN_ORDER"

    @rule()
    def commands_for_other_account(self) -> None:
        o = self.order
        (a,) = decide_amend(amend(o.client_order_id, "x", D(1), account="ACC-OTHER"), o, self.h.now)
        (c,) = decide_cancel(cancel(o.client_order_id, "y", account="ACC-OTHER"), o, self.h.now)
        assert a.seq == c.seq == 0 and a.reason_code == c.reason_code == "UNKNOWN_ORDER"

    # ------------------------------------------------------------ invariants

    @invariant()
    def quantities_hold(self) -> None:
        o = self.h.order
        if o is None:
            return
        assert o.status is not OrderStatus.REPLACED
        assert o.cum_qty >= 0 and o.leaves_qty >= 0
        assert o.cum_qty == sum((f.qty for f in o.fills), D(0))
        gt_overnight = o.status is OrderStatus.DONE_FOR_DAY and o.time_in_force is TimeInForce.GTC
        if o.status in LIVE_STATUSES or gt_overnight:
            assert o.cum_qty + o.leaves_qty == o.quantity
            # below the quantity, except while a cancel/replace is out: FIX precedence keeps
            # PENDING_CANCEL / PENDING_REPLACE above Filled until the venue answers (leaves 0); Done
            # for Day ranks above Filled too (a late fill completing a GTC order overnight)
            assert o.cum_qty < o.quantity or gt_overnight or o.status in (
                OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE, OrderStatus.SUSPENDED)
        else:
            assert o.leaves_qty == 0
        if o.fills:
            assert min(f.px for f in o.fills) <= o.avg_px <= max(f.px for f in o.fills)
            with localcontext(Context(prec=100)):
                exact = sum(f.qty * f.px for f in o.fills) / o.cum_qty
            assert o.avg_px == exact.quantize(D("1E-8"), rounding=ROUND_HALF_EVEN)
        else:
            assert o.avg_px == 0
        if o.status is OrderStatus.NEW:
            assert o.cum_qty == 0
        if o.status is OrderStatus.PARTIALLY_FILLED:
            assert 0 < o.cum_qty < o.quantity
        if o.status is OrderStatus.FILLED:
            assert o.cum_qty >= o.quantity
        if o.status in LIVE_STATUSES:
            pending_status = o.status in (OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_REPLACE)
            assert pending_status <= (o.pending is not None)
            assert (o.pending is not None) <= (pending_status or o.status is OrderStatus.SUSPENDED)

    @invariant()
    def journal_is_contiguous_and_replays(self) -> None:
        o = self.h.order
        if o is None:
            return
        seqs = [e.seq for e in self.h.journal if e.seq > 0]
        assert seqs == list(range(1, len(seqs) + 1)) and o.seq == len(seqs)
        assert fold(self.h.journal) == {o.order_id: o}

    @invariant()
    def fill_stream_matches_the_order(self) -> None:
        o = self.h.order
        if o is None:
            return
        standing: dict[str, D] = {}
        for f in (e for e in self.h.outputs if isinstance(e, Fill)):
            if f.kind is FillKind.FILL:
                standing[f.fill_id] = f.quantity
            elif f.kind is FillKind.BUST:
                assert standing.pop(f.ref_fill_id) == -f.quantity
            else:
                standing.pop(f.ref_fill_id)
                standing[f.fill_id] = f.quantity
        assert standing == {f.fill_id: f.qty for f in o.fills}


TestOrderMachine = OrderMachine.TestCase
TestOrderMachine.settings = SETTINGS


# ------------------------------------------- arbitrary reports, any state


@st.composite
def histories(draw) -> OrderHarness:
    """An order after a short random mix of valid and invalid venue reports."""
    h = OrderHarness()
    h.new(quantity=draw(quantities), limit_price=draw(prices))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(exec_types)
        fills = h.order.fills
        ref = draw(st.sampled_from([f.exec_id for f in fills])) if fills and draw(st.booleans()) else None
        h.send(h.report(kind, last_qty=draw(quantities), last_px=draw(prices), ref_exec_id=ref))
        if draw(st.integers(0, 4)) == 0:
            if draw(st.booleans()):
                h.cancel(f"c{len(h.journal)}")
            else:
                h.amend(f"a{len(h.journal)}", quantity=draw(quantities))
    return h


@SETTINGS
@given(
    h=histories(),
    kind=exec_types,
    status=statuses,
    last_qty=any_decimal,
    last_px=any_decimal,
    cum=any_decimal,
    leaves=any_decimal,
    ref=st.none() | st.text(alphabet="EX0123456789", min_size=1, max_size=4),
    exec_id=st.sampled_from(["E1", "E2", "E3", "fresh"]),
)
def test_any_report_in_any_state_yields_events_never_an_exception(
    h, kind, status, last_qty, last_px, cum, leaves, ref, exec_id
) -> None:
    rep = report(
        h.order,
        kind,
        exec_id,
        last_qty=abs(last_qty),
        last_px=last_px,
        ref_exec_id=ref,
        order_status=status,
        cum_qty=abs(cum),
        leaves_qty=abs(leaves),
        ts=h.now,
    )
    before = h.order
    events = decide_report(rep, before, h.now)
    assert isinstance(events, list)
    if kind is ExecType.ORDER_STATUS:  # changes nothing: [] when it agrees, else a VENUE_MISMATCH
        assert [(type(e), e.reason_code, e.seq) for e in events] in ([], [(OrderAnomaly, "VENUE_MISMATCH", 0)])
    elif rep.exec_id in before.exec_ids:  # the same report again, or a conflicting reuse of its exec id
        assert events == [] or [(type(e), e.reason_code, e.exec_id) for e in events] == [
            (OrderAnomaly, "CONFLICTING_EXEC_ID", rep.exec_id)
        ]
    else:
        assert events, "a new report always leaves a trace"
    after = before
    for e in events:
        if isinstance(e, JournalEvent) and e.seq > 0:
            after = evolve(after, e)
    check_consistent(before, events, after)
    assert not any(isinstance(e, OrderAnomaly) and e.reason_code == "UNPROCESSABLE" for e in events)


_PRICES = st.decimals(min_value=D("0.00000001"), max_value=D("100000"), places=8, allow_nan=False,
                      allow_infinity=False)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(_PRICES, _PRICES), min_size=1, max_size=6))
def test_average_price_is_the_exact_mean_rounded_half_even_to_8_places(pairs):
    """The integer arithmetic of `_totals` equals the exact rational mean, rounded half to even."""
    from fractions import Fraction
    from types import SimpleNamespace

    from oms.domain.orders.state import _totals

    fills = tuple(SimpleNamespace(qty=q, px=p) for q, p in pairs)
    cum = sum((q for q, _ in pairs), D(0))
    exact = sum((Fraction(q) * Fraction(p) for q, p in pairs), Fraction(0)) / Fraction(cum)
    assert _totals(fills) == (cum, D(round(exact * 10**8)).scaleb(-8))


def test_average_price_ties_round_to_even():
    from types import SimpleNamespace as F

    from oms.domain.orders.state import _totals

    one = D(1)
    assert _totals((F(qty=one, px=D("0.00000001")), F(qty=one, px=D("0.00000002"))))[1] == D("0.00000002")
    assert _totals((F(qty=one, px=D("0.00000002")), F(qty=one, px=D("0.00000003"))))[1] == D("0.00000002")
