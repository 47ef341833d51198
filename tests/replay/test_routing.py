"""Tests of `replay.routing` (venue statistics rebuilt from a journal and verified) and `replay.routing_flow`
(one seeded flow routed statically and smartly, in process)."""

from __future__ import annotations

from decimal import Decimal as D

from oms.routing import RoutingRules
from replay.routing import venue_statistics, verify_venue_statistics
from replay.routing_flow import VENUES, improvement, matched_improvement, run_flow


def test_the_same_seed_gives_the_same_flow_and_smart_routing_spreads_it():
    static = run_flow(None, seed=3, orders=20)
    again = run_flow(None, seed=3, orders=20)
    smart = run_flow(RoutingRules(default="cost"), seed=3, orders=20)
    assert (static.quantity, static.cost, dict(static.fees)) == (again.quantity, again.cost, dict(again.fees))
    assert set(static.children) == {"SIM-A"}
    assert len([v for v in VENUES if smart.children[v]]) >= 2
    assert smart.quantity >= static.quantity
    assert isinstance(improvement(static, smart), D) and isinstance(matched_improvement(static, smart), D)


def test_venue_statistics_rebuilt_from_the_journal_match_and_differences_are_named():
    from tests.oms.domain.sor.test_parent import Harness, new_order
    from oms.events import ExecType

    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.NEW)
    engine.report(a, ExecType.REJECTED)
    replayed = venue_statistics(engine.journal)
    assert verify_venue_statistics(replayed, engine.stats) == []
    replayed.stats[("A", "AAPL")] = replayed.get("A", "AAPL").__class__(routed=9)
    assert {d.field for d in verify_venue_statistics(replayed, engine.stats)} >= {"routed"}


def test_a_replay_folds_the_venue_statistics_and_verification_names_each_counter_that_differs():
    from oms.domain.sor import VenueStats
    from oms.events import ExecType
    from oms.state import MemoryStore
    from replay.journal import replay_events, verify_venue_stats
    from tests.oms.domain.sor.test_parent import Harness, new_order

    engine = Harness()
    engine(new_order("cl-1", quantity=D(100), limit_price=D("187.25")))
    b, a = engine.requests
    engine.report(b, ExecType.FILL, D(60), D("187.20"))
    result = replay_events(engine.journal, MemoryStore())
    assert result.venue_stats == engine.stats.stats and result.venue_stats[("B", "AAPL")].filled_qty == D(60)
    assert verify_venue_stats(result.venue_stats, engine.stats.stats) == []

    # the engine's statistics are summed over its partitions: split B's counts in two, they still agree
    b_stats = result.venue_stats[("B", "AAPL")]
    half = VenueStats(routed=1, routed_qty=D(60))
    rest = VenueStats(**{name: getattr(b_stats, name) - getattr(half, name) for name in VenueStats.__dataclass_fields__})
    assert verify_venue_stats(result.venue_stats, {**engine.stats.stats, ("B", "AAPL"): half.plus(rest)}) == []
    differences = verify_venue_stats(result.venue_stats, {("B", "AAPL"): rest})
    assert {(d.key, d.field) for d in differences} >= {("B/AAPL", "routed"), ("B/AAPL", "routed_qty"), ("A/AAPL", "routed")}
