"""Routing strategies: pure functions from an order's quantity to place and the market to child orders.

This module owns how quantity is split across venues. Every strategy is a
function `route(want, book, stats, closed, fees) -> Decision`: `want` is what
is left to place of a parent order (instrument, side, quantity, limit),
`book` the instrument's `ConsolidatedBook`, `stats` the `VenueStatistics`
folded from the journal, `closed` the venues whose circuit breaker is open
(venue -> why, `oms.routing.VenueAvailability.closed`) and `fees` the fee
schedules by venue. A `Decision` lists the `Child` orders (venue, quantity,
limit) and every venue considered with its score, and says why. The
strategies (`STRATEGIES`, by name):

- `best`: sweep displayed liquidity best price first, ties by lower taker fee,
  then venue name; the rest posts at the limit on the best-priced venue;
- `cost`: the same sweep ranked by price plus the taker fee per share (a buy;
  minus for a sell), net of rebates;
- `split`: split across venues in proportion to the depth each shows within
  the limit; the rest posts on the deepest venue;
- `passive`: post everything at the limit on the venue with the best fill
  history (fill rate, then maker fee, then name); a market order sweeps (`best`);
- `static`: `Static(venue_of)`, one child at the venue the static rule names.

Guarantees (hypothesis properties in the tests): the children's quantities sum
to at most `want.quantity`, no child's limit crosses the parent's, and no
child goes to a closed venue. Money is `Decimal`, exact. Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Callable, Iterator, Mapping, NamedTuple, Protocol

from oms.domain.sor.book import ConsolidatedBook, Level, SideDepth
from oms.domain.sor.fees import FREE, FeeSchedule, FeeUnit, Liquidity
from oms.domain.sor.stats import VenueStatistics
from oms.events import Side

__all__ = ["STRATEGIES", "Child", "Decision", "Score", "Static", "Strategy", "Want", "best_price", "cost_aware", "plain",
           "liquidity_split", "passive", "route"]

ZERO = Decimal(0)
_UNIT = Decimal(1)
_FINE = Decimal("0.00000001")
_ONE = Decimal(1)
_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class Want:
    """What is left to place of a parent order: `quantity` of `instrument` on `side`, never past
    `limit_price` (None: a market order); `venue` is the venue the command named, if any."""

    instrument: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None = None
    venue: str | None = None


class Child(NamedTuple):
    """One child order: `quantity` at `venue`, limit `limit_price` (None: market), and whether it is
    expected to take displayed liquidity (TAKER) or rest (MAKER)."""

    venue: str
    quantity: Decimal
    limit_price: Decimal | None
    liquidity: Liquidity


class Score(NamedTuple):
    """A venue the strategy considered, its score (lower is better for prices and costs; `None`: not
    scored) and a note (why it was skipped, or what the score is)."""

    venue: str
    score: Decimal | None
    note: str


def plain(value: Decimal) -> str:
    """A decimal without trailing zeros or an exponent: 30.00000000 -> 30."""
    return f"{value.normalize():f}"


class _Swept(NamedTuple):
    """What a sweep did, worded only when the journal asks (`Decision.reason`): wording costs more than
    deciding."""

    taken: Mapping[str, tuple[Decimal, Decimal]]
    left: Decimal
    post_at: str | None

    def __str__(self) -> str:
        swept = ", ".join(f"{plain(qty)} at {venue} up to {plain(px)}" for venue, (qty, px) in self.taken.items())
        rest = f"; {plain(self.left)} posted at {self.post_at}" if self.left > 0 else ""
        return f"swept {swept or 'nothing'}{rest}"


class _Plain(NamedTuple):
    """A decimal worded by `plain` when it is."""

    value: Decimal

    def __str__(self) -> str:
        return plain(self.value)


class _Worded(NamedTuple):
    """A reason worded only when the journal asks: `text.format(*parts)`, each part worded by `str`."""

    text: str
    parts: tuple

    def __str__(self) -> str:
        return self.text.format(*map(str, self.parts))


class _Split(NamedTuple):
    """What a split did, worded only when the journal asks (`Decision.reason`)."""

    total: Decimal
    children: tuple[Child, ...]

    def __str__(self) -> str:
        parts = ", ".join(f"{plain(c.quantity)} at {c.venue}" for c in self.children)
        return f"split by depth {plain(self.total)} shown: {parts}"


class Decision(NamedTuple):
    """A strategy's answer: the children to send, each venue considered with its score, and why
    (`reason`: text, or a value that words itself with `str`). A named tuple: made on every decision."""

    strategy: str
    children: tuple[Child, ...]
    considered: tuple[Score, ...]
    why: object

    @property
    def reason(self) -> str:
        return str(self.why)

    @property
    def quantity(self) -> Decimal:
        return sum((c.quantity for c in self.children), ZERO)


class Strategy(Protocol):
    def __call__(self, want: Want, book: ConsolidatedBook, stats: VenueStatistics, closed: Mapping[str, str],
                 fees: Mapping[str, FeeSchedule]) -> Decision: ...


def _open_levels(want: Want, book: ConsolidatedBook, closed: Mapping[str, str]) -> tuple[dict[str, SideDepth], list[Score]]:
    """venue -> its levels for `want` (open venues only, book order), and a Score per closed venue."""
    skipped = []
    levels = {}
    for venue, depth in book.taking(want.side).items():
        if venue in closed:
            skipped.append(Score(venue, None, f"circuit open: {closed[venue]}"))
        else:
            levels[venue] = depth
    return levels, skipped


def _net_terms(schedule: FeeSchedule, buy: bool) -> tuple[Decimal, Decimal]:
    """(factor, addend): a price net of `schedule`'s taker fee per share is `price * factor + addend`
    (per share the fee is a constant, in basis points a factor of the price; a sell subtracts it)."""
    if schedule.unit is FeeUnit.BPS:
        return (_ONE + schedule.taker / _BPS if buy else _ONE - schedule.taker / _BPS), ZERO
    return _ONE, (schedule.taker if buy else -schedule.taker)


class _SweepOrder:
    """The levels of a book side in the order sweeps take them, lowest rank first: price then taker fee
    then venue (`with_fee` False), or the price net of the taker fee per share then venue; a venue's own
    levels in book order on ties. A k-way merge of the venues' levels, which are best first (and so are
    their net prices, a fee in basis points being at most 100% of the notional: `FeeSchedule`), merged
    only as far as sweeps have needed it: `entries` holds (price, venue, size) merged so far, `walk()`
    yields them and merges on. `scores` is each venue's best level ranked (what the strategy considered);
    `schedules` the fee schedules it was worked out with. Kept with its book (`_sweep_order`), used from
    one thread."""

    __slots__ = ("entries", "scores", "schedules", "_heap", "_levels", "_buy", "_with_fee", "_considered")

    def __init__(self, book: ConsolidatedBook, side: Side, schedules: tuple[FeeSchedule, ...], with_fee: bool):
        self.entries: list[tuple[Decimal, str, Decimal]] = []
        self.scores: dict[str, Score] = {}
        self.schedules = schedules
        self._buy = buy = side is Side.BUY
        self._with_fee = with_fee
        self._levels: dict[str, tuple[tuple[Level, ...], object]] = {}
        self._heap = []
        self._considered: dict[tuple, tuple[tuple[Score, ...], int]] = {}
        note = "price net of taker fee" if with_fee else "best price, then taker fee"
        for (venue, venue_book), schedule in zip(book.venues.items(), schedules):
            levels = venue_book.asks if buy else venue_book.bids
            if not levels:
                continue
            terms = _net_terms(schedule, buy) if with_fee else schedule.taker
            self._levels[venue] = (levels, terms)
            rank = self._rank(venue, levels, terms, 0)
            self._heap.append(rank)
            top = levels[0].price
            self.scores[venue] = Score(venue, (rank[0] if buy else -rank[0]) if with_fee else top, note)
        heapq.heapify(self._heap)

    def _rank(self, venue: str, levels: tuple[Level, ...], terms, index: int) -> tuple:
        price = levels[index].price
        if self._with_fee:
            factor, addend = terms
            net = price * factor + addend
            return (net if self._buy else -net, venue, index)
        return (price if self._buy else -price, terms, venue, index)

    def considered(self, closed: Mapping[str, str]) -> tuple[tuple[Score, ...], int]:
        """(each venue's score, the closed ones first with why, and the number of open venues) with
        the venues in `closed` closed; kept per closed set (a few at most: breakers change seldom)."""
        key = tuple(closed.items())
        found = self._considered.get(key)
        if found is None:
            shut = [Score(venue, None, f"circuit open: {closed[venue]}") for venue in self.scores if venue in closed]
            opened = [score for venue, score in self.scores.items() if venue not in closed]
            found = (tuple(shut + opened), len(opened))
            if len(self._considered) < 16:
                self._considered[key] = found
        return found

    def walk(self) -> Iterator[tuple[Decimal, str, Decimal]]:
        """Every level in order: those merged already, then merging on while the caller asks."""
        yield from self.entries
        heap, entries = self._heap, self.entries
        while heap:
            rank = heapq.heappop(heap)
            venue, index = rank[-2], rank[-1]
            levels, terms = self._levels[venue]
            price, size = levels[index]
            if index + 1 < len(levels):
                heapq.heappush(heap, self._rank(venue, levels, terms, index + 1))
            entry = (price, venue, size)
            entries.append(entry)
            yield entry


def _sweep_order(book: ConsolidatedBook, side: Side, fees: Mapping[str, FeeSchedule], with_fee: bool) -> _SweepOrder:
    """The book's `_SweepOrder` for `side` under `fees`, kept with the book under the identities of the
    venues' fee schedules (which the order holds, so no other schedule can take their ids): merged once
    per book value and fee configuration, not per decision."""
    schedules = tuple(fees.get(venue, FREE) for venue in book.venues)
    key = (_SweepOrder, side, with_fee, *map(id, schedules))
    return book.derived(key, lambda: _SweepOrder(book, side, schedules, with_fee))


def _sweep(want: Want, order: _SweepOrder, closed: Mapping[str, str], open_venues: int,
           by_price: bool) -> tuple[dict[str, tuple[Decimal, Decimal]], Decimal]:
    """Take displayed liquidity of open venues within the limit in `order`: venue -> (quantity, worst
    price taken), and the quantity left. A walk of the levels it takes (and of those it skips), not of
    the book: it ends when nothing is left, or once every open venue has shown a level past the limit
    (a venue's later levels are past it too; in price order, `by_price`, the first such level ends it)."""
    limit, buy = want.limit_price, want.side is Side.BUY
    left = want.quantity
    taken: dict[str, tuple[Decimal, Decimal]] = {}
    if left <= 0:
        return taken, left
    past: set[str] = set()
    for price, venue, size in order.walk():
        if venue in closed:
            continue
        if limit is not None and (price > limit if buy else price < limit):
            past.add(venue)
            if by_price or len(past) == open_venues:
                break
            continue
        qty = size if size < left else left
        before = taken.get(venue)
        taken[venue] = (qty if before is None else before[0] + qty, price)
        left -= qty
        if left <= 0:
            break
    return taken, left


def _children(want: Want, taken: Mapping[str, tuple[Decimal, Decimal]], left: Decimal, post_at: str | None) -> tuple[Child, ...]:
    """One child per venue swept (limit: the worst price taken there), and the quantity `left` posted at
    `post_at` (at the parent's limit; market: a market child), merged into its sweep child if any."""
    children = []
    for venue, (qty, worst) in taken.items():
        if venue == post_at and left > 0:
            children.append(Child(venue, qty + left, want.limit_price, Liquidity.MAKER if want.limit_price else Liquidity.TAKER))
            left = ZERO
        else:
            children.append(Child(venue, qty, worst, Liquidity.TAKER))
    if left > 0 and post_at is not None:
        liquidity = Liquidity.MAKER if want.limit_price is not None else Liquidity.TAKER
        children.append(Child(post_at, left, want.limit_price, liquidity))
    return tuple(children)


def _fallback_venue(want: Want, book: ConsolidatedBook, closed: Mapping[str, str],
                    fees: Mapping[str, FeeSchedule]) -> str | None:
    """Where quantity no displayed liquidity takes goes when nothing was swept: the venue the command
    named if open, else the open venue with the most depth on the order's side, else any open venue
    the book or the fee schedules know (by name)."""
    if want.venue is not None and want.venue not in closed:
        return want.venue
    depth = {v: sum((l.size for l in levels), ZERO) for v, levels in book.side_levels(want.side).items() if v not in closed}
    if depth:
        return max(sorted(depth), key=lambda v: depth[v])
    known = sorted(v for v in {*book.venues, *fees} if v not in closed)
    return known[0] if known else None


def _sweeping(name: str, with_fee: bool) -> Strategy:
    def strategy(want: Want, book: ConsolidatedBook, stats: VenueStatistics, closed: Mapping[str, str],
                 fees: Mapping[str, FeeSchedule]) -> Decision:
        order = _sweep_order(book, want.side, fees, with_fee)
        considered, open_venues = order.considered(closed)
        taken, left = _sweep(want, order, closed, open_venues, by_price=not with_fee)
        post_at = next(iter(taken), None) or _fallback_venue(want, book, closed, fees)
        children = _children(want, taken, left, post_at)
        if not children:
            return Decision(name, (), considered, "no open venue to route to")
        return Decision(name, children, considered, _Swept(taken, left, post_at))
    strategy.__name__ = name
    return strategy


best_price = _sweeping("best", with_fee=False)
cost_aware = _sweeping("cost", with_fee=True)


def _lots(quantity: Decimal) -> Decimal:
    return _UNIT if quantity == quantity.to_integral_value() else _FINE


def liquidity_split(want: Want, book: ConsolidatedBook, stats: VenueStatistics, closed: Mapping[str, str],
                    fees: Mapping[str, FeeSchedule]) -> Decision:
    levels, considered = _open_levels(want, book, closed)
    limit = want.limit_price
    bound = None if limit is None else limit if want.side is Side.BUY else -limit  # in `SideDepth.keys` terms
    depth: dict[str, tuple[Decimal, Decimal | None]] = {}
    for venue, side_depth in levels.items():
        within = len(side_depth.keys) if bound is None else bisect_right(side_depth.keys, bound)
        shown = side_depth.cumulative[within - 1] if within else ZERO
        considered.append(Score(venue, shown, "depth within the limit"))
        if shown > 0:
            depth[venue] = (shown, side_depth.levels[within - 1].price)
    total = sum((d for d, _ in depth.values()), ZERO)
    if total == 0:
        return best_price(want, book, stats, closed, fees)
    lot = _lots(want.quantity)
    placed = min(total, want.quantity)
    shares = {v: (placed * d / total).quantize(lot, ROUND_DOWN) for v, (d, _) in depth.items()}
    deepest = max(sorted(depth), key=lambda v: depth[v][0])
    shares[deepest] += want.quantity - sum(shares.values(), ZERO)  # rounding and anything beyond the depth
    children = []
    for venue, qty in shares.items():
        if qty <= 0:
            continue
        rests = qty > depth[venue][0] or want.limit_price is not None and venue == deepest and want.quantity > total
        limit = want.limit_price if rests else depth[venue][1]
        children.append(Child(venue, qty, limit, Liquidity.MAKER if rests and want.limit_price else Liquidity.TAKER))
    children = tuple(children)
    return Decision("split", children, tuple(considered), _Split(total, children))


def passive(want: Want, book: ConsolidatedBook, stats: VenueStatistics, closed: Mapping[str, str],
            fees: Mapping[str, FeeSchedule]) -> Decision:
    if want.limit_price is None:
        decision = best_price(want, book, stats, closed, fees)
        return Decision("passive", decision.children, decision.considered, _Worded("a market order sweeps: {}", (decision.why,)))
    considered = [Score(v, None, f"circuit open: {why}") for v, why in sorted(closed.items()) if v in book.venues or v in fees]
    candidates = sorted(v for v in {*book.venues, *fees, *([want.venue] if want.venue else [])} if v not in closed)
    if not candidates:
        return Decision("passive", (), tuple(considered), "no open venue to post at")
    rates = {v: stats.get(v, want.instrument).fill_rate for v in candidates}
    for v in candidates:
        considered.append(Score(v, -rates[v], "fill rate, negated"))
    chosen = min(candidates, key=lambda v: (-rates[v], fees.get(v, FREE).per_share(want.limit_price, Liquidity.MAKER), v))
    child = Child(chosen, want.quantity, want.limit_price, Liquidity.MAKER)
    return Decision("passive", (child,), tuple(considered), _Worded("posted at {}: best fill rate {}", (chosen, _Plain(rates[chosen]))))


@dataclass(frozen=True)
class Static:
    """Today's rule as a strategy: one child with everything at `venue_of(want)` (the static router's
    venue), none when that venue's circuit is open."""

    venue_of: Callable[[Want], str]

    def __call__(self, want: Want, book: ConsolidatedBook, stats: VenueStatistics, closed: Mapping[str, str],
                 fees: Mapping[str, FeeSchedule]) -> Decision:
        venue = self.venue_of(want)
        if venue in closed:
            return Decision("static", (), (Score(venue, None, f"circuit open: {closed[venue]}"),),
                            f"the static venue {venue} is closed")
        liquidity = Liquidity.MAKER if want.limit_price is not None else Liquidity.TAKER
        return Decision("static", (Child(venue, want.quantity, want.limit_price, liquidity),),
                        (Score(venue, None, "static rule"),), f"static route to {venue}")


STRATEGIES: dict[str, Strategy] = {"best": best_price, "cost": cost_aware, "split": liquidity_split, "passive": passive}
"""The strategies by the name routing rules use (`static` is built with its venue rule: `Static`)."""


def route(strategy: Strategy, want: Want, book: ConsolidatedBook, stats: VenueStatistics,
          closed: Mapping[str, str], fees: Mapping[str, FeeSchedule], exclude: frozenset[str] = frozenset()) -> Decision:
    """`strategy`'s decision with the venues in `exclude` treated as closed (a venue that just rejected
    a child is not chosen again for its re-route)."""
    if exclude:
        closed = {**closed, **{v: "excluded for this re-route" for v in exclude if v not in closed}}
    if want.quantity <= 0:
        return Decision(getattr(strategy, "__name__", "strategy"), (), (), "nothing left to place")
    return strategy(want, book, stats, closed, fees)
