"""Smart order routing: the pure pieces the engine routes parent orders with.

This package owns, module by module: `book` (the consolidated book per
instrument from venue-tagged quotes and depth), `fees` (venue fee schedules,
maker/taker, per share or basis points, rebates), `stats` (venue statistics
folded from the journal: fill rate, time to fill, reject rate, slippage against
arrival, latency), `strategies` (pure `route(want, book, stats, closed, fees) ->
Decision` functions: best price, cost-aware, liquidity split, passive, static)
and `parent` (the parent/child order decisions the engine's step calls). Child
order ids are `oms.ids`'s (`child_order_id`, `parent_of`, `is_child`).
No I/O, no clock, exact money.
"""

from oms.domain.sor.book import UNTAGGED, ConsolidatedBook, Level, VenueBook, fold_quote
from oms.domain.sor.fees import FREE, FeeSchedule, FeeUnit, Liquidity, parse_fees
from oms.domain.sor.stats import VenueStatistics, VenueStats
from oms.domain.sor.strategies import (
    STRATEGIES,
    Child,
    Decision,
    Score,
    Static,
    Strategy,
    Want,
    best_price,
    cost_aware,
    liquidity_split,
    passive,
    route,
)

__all__ = ["FREE", "STRATEGIES", "UNTAGGED", "Child", "ConsolidatedBook", "Decision", "FeeSchedule", "FeeUnit",
           "Level", "Liquidity", "Score", "Static", "Strategy", "VenueBook", "VenueStatistics", "VenueStats", "Want",
           "best_price", "cost_aware", "fold_quote", "liquidity_split",
           "parse_fees", "passive", "route"]
