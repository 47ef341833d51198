"""The backtest runner and its models: determinism, latency, queue position, slippage, outages and breakers."""

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings, strategies as st

from oms.events import OrderDenied, OrderFilled, Quote, Side, Trade
from oms.venues.breaker import BreakerPolicy
from connectors.marketdata_files import load_files
from replay.backtest import BacktestConfig, Context, Recorded, Strategy, run_backtest
from replay.models import Latency, Outage, VenueModel
from replay.strategies import PassiveMaker

T0 = 1_717_425_000_000_000_000
MS = 1_000_000
DATA = sorted(Path("replay/data/backtest").glob("*.csv"))


def quote(t, bid="100.00", ask="100.02", bid_size=300, ask_size=300, venue="SIM"):
    return Quote(event_id=f"q{t}", ts_event=t, ts_init=t, instrument="X", venue=venue, bid_price=Decimal(bid),
                 bid_size=Decimal(bid_size), ask_price=Decimal(ask), ask_size=Decimal(ask_size))


def trade(t, price="100.00", size=100, venue="SIM"):
    return Trade(event_id=f"t{t}", ts_event=t, ts_init=t, instrument="X", venue=venue, price=Decimal(price),
                 size=Decimal(size))


class Once(Strategy):
    """Sends one order at the first quote."""

    def __init__(self, side=Side.BUY, qty=100, price=None):
        self.side, self.qty, self.price, self.sent = side, qty, price, False

    def on_quote(self, q, ctx: Context):
        if self.sent:
            return None
        self.sent = True
        return [ctx.order(self.side, "X", self.qty, self.price, "SIM")]


def fills(result):
    return [e for e in result.journal if isinstance(e, OrderFilled)]


def test_same_seed_and_inputs_give_a_byte_identical_journal():
    md = list(load_files(DATA))[:1200]
    config = BacktestConfig(venues={"SIM-A": VenueModel(entry=Latency(200_000, 100_000), reject_probability=0.1),
                                    "SIM-B": VenueModel(entry=Latency(MS, sigma=0.5), api_failure_probability=0.05)},
                            seed=3)
    first = run_backtest(md, PassiveMaker("AAPL"), config).journal_bytes()
    second = run_backtest(md, PassiveMaker("AAPL"), config).journal_bytes()
    other = run_backtest(md, PassiveMaker("AAPL"), BacktestConfig(venues=config.venues, seed=4)).journal_bytes()
    assert len(first) > 10_000 and first == second
    assert other != first


def test_entry_latency_shifts_the_fill_by_the_round_trip():
    md = [quote(T0), quote(T0 + 50 * MS)]
    instant = run_backtest(md, Once(), BacktestConfig(venues={"SIM": VenueModel()}))
    late = run_backtest(md, Once(), BacktestConfig(venues={"SIM": VenueModel(entry=Latency(5 * MS))}))
    assert [f.ts_event for f in fills(instant)] == [T0]
    assert [f.ts_event for f in fills(late)] == [T0 + 10 * MS]
    assert late.latencies[0]["ns"] == 10 * MS


def test_a_passive_order_fills_only_after_the_size_ahead_of_it_traded():
    md = [quote(T0)] + [trade(T0 + i * MS) for i in range(1, 6)]
    strategy = lambda: Once(Side.BUY, 100, "100.00")  # joins 300 displayed at the bid
    queued = run_backtest(md, strategy(), BacktestConfig(venues={"SIM": VenueModel()}))
    no_queue = run_backtest(md, strategy(), BacktestConfig(venues={"SIM": VenueModel(queue_position=False)}))
    assert [f.ts_event for f in fills(queued)] == [T0 + 4 * MS]
    assert [f.ts_event for f in fills(no_queue)] == [T0 + 1 * MS]
    assert queued.fills[0]["passive"] and queued.fills[0]["slippage_bps"] == Decimal("-1.00")


def test_slippage_and_impact_move_a_taker_fill_against_the_order():
    md = [quote(T0, ask="100.00", ask_size=1000)]
    result = run_backtest(md, Once(Side.BUY, 500), BacktestConfig(
        venues={"SIM": VenueModel(slippage_bps=Decimal(1), impact_bps_per_unit=Decimal("0.01"),
                                  taker_fee_bps=Decimal(2))}))
    [fill] = result.fills
    assert fill["price"] == Decimal("100.06")  # 100 * (1 + 6 bps), up to the tick
    assert not fill["passive"] and fill["fee"] == Decimal("500") * Decimal("100.06") * Decimal("0.0002")


def test_an_outage_opens_the_breaker_and_new_orders_are_denied_until_it_recovers():
    class Every(Strategy):
        def on_quote(self, q, ctx):
            return [ctx.buy("X", 10, None, "SIM")]

    md = [quote(T0 + i * 100 * MS) for i in range(40)]
    config = BacktestConfig(venues={"SIM": VenueModel(outages=(Outage(T0, T0 + 1000 * MS),))},
                            breaker=BreakerPolicy(failures=3, window_ns=10 ** 9, cooldown_ns=500 * MS))
    result = run_backtest(md, Every(), config)
    denied = [e for e in result.journal if isinstance(e, OrderDenied)]
    assert result.breaker_opened["SIM"] >= 1
    assert denied and all(d.reason_code == "VENUE_UNAVAILABLE" for d in denied)
    assert fills(result) and min(f.ts_event for f in fills(result)) >= T0 + 1000 * MS  # trading resumes after


def test_recorded_commands_replay_at_their_own_times():
    ctx = Context("BT", "backtest")
    ctx.now = T0 + 20 * MS
    command = ctx.buy("X", 100, None, "SIM")
    md = [quote(T0), quote(T0 + 50 * MS)]
    result = run_backtest(md, Recorded([command]), BacktestConfig(venues={"SIM": VenueModel()}))
    assert [f.ts_event for f in fills(result)] == [T0 + 20 * MS]
    assert result.summary()["fills"] == 1


def test_oms_backtest_prints_the_summary_and_writes_the_report(tmp_path):
    from entrypoints.backtest import main

    status = main(["backtest", "--out", str(tmp_path), "--venue", "SIM-A:entry=100us", "--venue", "SIM-B:entry=1ms,reject=0.1"])
    assert status == 0
    assert (tmp_path / "report.html").exists() and (tmp_path / "venues.csv").read_text().count("SIM-") == 2


def test_oms_backtest_refuses_a_bad_venue_spec():
    from entrypoints.backtest import main

    assert main(["backtest", "--venue", "SIM-A:latency=1ms"]) != 0


def test_fills_lost_in_an_outage_are_found_by_the_reconciliation_when_it_ends():
    md = [quote(T0), trade(T0 + 10 * MS), quote(T0 + 60 * MS)]
    model = VenueModel(queue_position=False, outages=(Outage(T0 + 5 * MS, T0 + 50 * MS),))
    result = run_backtest(md, Once(Side.BUY, 100, "100.00"), BacktestConfig(venues={"SIM": model}))
    assert result.lost_reports == 1
    [summary] = result.reconciliations
    assert summary.fills_resent == 1 and summary.missed_fills
    assert [f.ts_event for f in fills(result)] == [T0 + 50 * MS]
    assert result.orders[0]["status"] == "FILLED"


def test_the_timer_and_market_data_latency_reach_the_strategy_on_the_simulated_clock():
    seen = []

    class Watch(Strategy):
        def on_quote(self, q, ctx):
            seen.append(("quote", ctx.now))

        def on_timer(self, ctx):
            seen.append(("timer", ctx.now))

    md = [quote(T0), quote(T0 + 25 * MS)]
    run_backtest(md, Watch(), BacktestConfig(venues={"SIM": VenueModel(market_data=Latency(3 * MS))},
                                             timer_ns=10 * MS))
    assert seen == [("quote", T0 + 3 * MS), ("timer", T0 + 10 * MS), ("timer", T0 + 20 * MS),
                    ("quote", T0 + 28 * MS)]


# ------------------------------------------------------------------ API failures and their reconciliation

FAILING = dict(api_failure_probability=1.0, queue_position=False)


def failing(after: float, **extra) -> BacktestConfig:
    """Every request fails once; `after`: the share the venue took (its answer lost)."""
    return BacktestConfig(venues={"SIM": VenueModel(failure_after_venue=after, **FAILING, **extra)},
                          deadline_ns=100 * MS)


def test_a_new_the_venue_took_but_never_answered_is_known_with_its_fills_after_the_reconciliation():
    md = [quote(T0, ask="100.02"), quote(T0 + 200 * MS)]
    result = run_backtest(md, Once(Side.BUY, 100, "100.02"), failing(after=1.0))

    assert result.unanswered == 1 and result.lost_reports == 2  # the ack and the fill it never saw
    [order] = result.orders
    assert (order["status"], order["cum_qty"]) == ("FILLED", Decimal(100))
    assert [f.ts_event for f in fills(result)] == [T0 + 100 * MS]  # booked at the deadline, not before
    [summary] = result.reconciliations
    assert summary.missed_fills == order["order_id"] and summary.fills_resent == 1
    mismatch = [e for e in result.journal if type(e).__name__ == "OrderAnomaly"]
    assert [m.reason_code for m in mismatch] == ["VENUE_MISMATCH"]  # the status query said cum 100, OMS had 0
    venue_order = result.venues["SIM"].order(order["order_id"])
    assert venue_order.cum_qty == Decimal(100)


def test_a_resting_new_the_venue_took_but_never_answered_is_acknowledged_by_the_reconciliation():
    md = [quote(T0), quote(T0 + 200 * MS)]
    result = run_backtest(md, Once(Side.BUY, 100, "99.00"), failing(after=1.0))

    [order] = result.orders
    assert order["status"] == "NEW"
    [ack] = [e for e in result.journal if type(e).__name__ == "OrderAcknowledged"]
    assert ack.ts_event == T0 + 100 * MS
    assert result.reconciliations[0].acknowledged == order["order_id"]
    assert result.venues["SIM"].working(result.venues["SIM"].order(order["order_id"]).venue_order_id)


def test_a_new_the_venue_never_got_is_rejected_with_the_reason_at_its_deadline():
    md = [quote(T0), quote(T0 + 200 * MS)]
    result = run_backtest(md, Once(Side.BUY, 100, "100.02"), failing(after=0.0))

    [order] = result.orders
    assert order["status"] == "REJECTED" and order["cum_qty"] == 0
    assert "no answer from SIM in 100 ms" in order["reason"] and "lost" in order["reason"]
    [rejected] = [e for e in result.journal if type(e).__name__ == "OrderRejected"]
    assert rejected.ts_event == T0 + 100 * MS
    assert result.fills == [] and result.venues["SIM"].order(order["order_id"]) is None
    assert result.reconciliations[0].in_flight == order["order_id"]


class CancelLater(Strategy):
    """A resting buy at the first quote, canceled at the third."""

    def __init__(self):
        self.quotes, self.cid = 0, None

    def on_quote(self, q, ctx):
        self.quotes += 1
        if self.quotes == 1:
            command = ctx.buy("X", 100, "99.00", "SIM")
            self.cid = command.client_order_id
            return [command]
        if self.quotes == 3:
            return [ctx.cancel(self.cid)]
        return None


def test_a_cancel_that_got_no_answer_ends_canceled_on_both_sides_whether_or_not_the_venue_took_it():
    md = [quote(T0), quote(T0 + 200 * MS), quote(T0 + 300 * MS), quote(T0 + 600 * MS)]
    for after in (0.0, 1.0):
        config = BacktestConfig(venues={"SIM": VenueModel(api_failure_probability=0.5, failure_after_venue=after)},
                                deadline_ns=100 * MS, seed=1)
        result = run_backtest(md, CancelLater(), config)
        [order] = result.orders
        assert order["status"] == "CANCELED", (after, order)
        venue_order = result.venues["SIM"].order(order["order_id"])
        assert venue_order is not None and venue_order.status.value == "CANCELED"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), fail=st.sampled_from([0.05, 0.3, 0.8]), after=st.sampled_from([0.0, 0.5, 1.0]))
def test_after_api_failures_every_order_agrees_with_the_venue(seed, fail, after):
    md = list(load_files(DATA))[:600]
    config = BacktestConfig(venues={"SIM-A": VenueModel(api_failure_probability=fail, failure_after_venue=after),
                                    "SIM-B": VenueModel(entry=Latency(MS), api_failure_probability=fail,
                                                        failure_after_venue=after)},
                            seed=seed, deadline_ns=50 * MS)
    result = run_backtest(md, PassiveMaker("AAPL"), config)

    assert result.unanswered > 0 or fail < 0.3
    for order in (o for o in result.orders if o["venue"] is not None):  # denied orders never left the OMS
        held = result.venues[order["venue"]].order(order["order_id"])
        if held is None or held.status.value == "REJECTED":
            assert order["status"] == "REJECTED" and order["cum_qty"] == 0, order
            continue
        assert order["cum_qty"] == held.cum_qty, (order, held)
        assert (order["status"] in ("NEW", "PARTIALLY_FILLED")) == held.working, (order, held)


# ------------------------------------------------------------------ fees from the routing fee schedules


def test_a_venue_charges_its_routing_fee_schedule_and_the_journal_carries_the_commission():
    from oms.domain.sor.fees import parse_fees

    md = [quote(T0, ask="100.00", ask_size=1000), trade(T0 + MS, "99.00", 1000)]

    class TakeThenMake(Strategy):
        def on_quote(self, q, ctx):  # 500 taken at the ask, 200 resting at 99.00 filled by the print
            return [ctx.buy("X", 500, None, "SIM"), ctx.buy("X", 200, "99.00", "SIM")]

    config = BacktestConfig(venues={"SIM": VenueModel(queue_position=False)},
                            fees=parse_fees("SIM=taker:0.003,maker:-0.002;ELSEWHERE=taker:1"))
    result = run_backtest(md, TakeThenMake(), config)

    assert [(f["passive"], f["fee"]) for f in result.fills] == [(False, Decimal("1.5")), (True, Decimal("-0.4"))]
    assert [f.commission for f in fills(result)] == [Decimal("1.5"), Decimal("-0.4")]
    assert result.summary()["fees"] == Decimal("1.1")


def test_the_old_bps_fields_and_the_same_schedule_give_byte_identical_journals():
    from oms.domain.sor.fees import parse_fees

    md = list(load_files(DATA))[:1200]
    old = BacktestConfig(venues={"SIM-A": VenueModel(maker_fee_bps=Decimal("-0.2"), taker_fee_bps=Decimal("0.3")),
                                 "SIM-B": VenueModel(entry=Latency(MS), taker_fee_bps=Decimal("0.2"))}, seed=2)
    new = BacktestConfig(venues={"SIM-A": VenueModel(), "SIM-B": VenueModel(entry=Latency(MS))}, seed=2,
                         fees=parse_fees("SIM-A=taker:0.3bps,maker:-0.2bps;SIM-B=taker:0.2bps"))
    first, second = run_backtest(md, PassiveMaker("AAPL"), old), run_backtest(md, PassiveMaker("AAPL"), new)
    assert first.summary()["fees"] != 0 and first.summary() == second.summary()
    assert first.journal_bytes() == second.journal_bytes()


def test_a_fee_schedule_given_twice_for_a_venue_is_refused():
    from oms.domain.sor.fees import parse_fees

    import pytest

    with pytest.raises(ValueError, match="already charges"):
        BacktestConfig(venues={"SIM": VenueModel(taker_fee_bps=Decimal(1))}, fees=parse_fees("SIM=taker:0.01"))


def test_oms_backtest_takes_the_fee_schedules_in_the_oms_venue_fees_form(tmp_path):
    from entrypoints.backtest import fee_schedules, main
    from oms.domain.sor.fees import parse_fees

    assert main(["backtest", "--fees", "SIM-A=taker:lots"]) != 0
    assert fee_schedules("SIM-A=taker:0.001", "SIM-A=taker:0.002", sample_venues=True) == parse_fees("SIM-A=taker:0.001")
    assert fee_schedules(None, "SIM-A=taker:0.002", sample_venues=True) == parse_fees("SIM-A=taker:0.002")
    assert fee_schedules(None, "", sample_venues=False) == {} and set(fee_schedules(None, "", True)) == {"SIM-A", "SIM-B"}


def test_a_new_the_venue_rejected_but_whose_answer_was_lost_is_rejected_naming_the_status_query():
    md = [quote(T0), quote(T0 + 200 * MS)]
    config = BacktestConfig(venues={"SIM": VenueModel(failure_after_venue=1.0, reject_probability=1.0, **FAILING)},
                            deadline_ns=100 * MS)
    result = run_backtest(md, Once(Side.BUY, 100, "100.02"), config)

    [order] = result.orders
    assert order["status"] == "REJECTED"
    assert order["reason"] == "no answer from SIM in 100 ms; the venue rejected the order (status query)"
