"""The routed-vs-unrouted benchmark's arithmetic: per-flow percentiles and the routed / unrouted ratios, and
the routing rules that confine smart routing to the routed flow's accounts."""

from bench.routed import figures_of, routing_rules
from oms.routing import RoutingRules


def flow(latencies):
    return {"sent": len(latencies), "latencies": latencies, "hops": {"command -> request": [1.0, 3.0]},
            "cpu": {"worker": 10.0}, "load_after": "1.00 1.00 1.00"}


def test_ratios_routed_over_unrouted():
    figures = figures_of({"unrouted": flow([10.0] * 9 + [20.0]), "routed": flow([15.0] * 9 + [50.0])})
    assert figures["flows"]["routed"]["p50_ms"] == 15.0 and figures["flows"]["unrouted"]["p99_ms"] == 20.0
    assert figures["ratios"] == {"p50 routed/unrouted": 1.5, "p90 routed/unrouted": 1.5, "p99 routed/unrouted": 2.5}
    assert figures["flows"]["routed"]["hops_p50_ms"] == {"command -> request": 1.0}
    assert figures_of({"routed": flow([1.0])})["ratios"] == {}


def test_only_the_routed_accounts_are_smart_routed():
    rules = RoutingRules.parse(routing_rules("cost"))
    assert rules.strategy_for("R0", "AAPL")[0] == "cost" and rules.strategy_for("R3", "AAPL")[0] == "cost"
    assert rules.strategy_for("U0", "AAPL") is None
