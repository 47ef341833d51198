"""The position-state bench measures what it says: with histories, the bytes a fill writes stay within
a block whatever the position's fills, while the whole state grows with them; the post-trade monitor
bench holds the open orders and cancels each once with the kill switch on."""

from __future__ import annotations

from bench.monitor import measure as measure_monitor
from bench.position_state import measure
from oms.state import HISTORY_BLOCK


def test_a_fill_writes_at_most_a_block_while_the_whole_state_grows_with_the_fills():
    few, many = measure(10, 5), measure(3 * HISTORY_BLOCK + 10, 5)
    assert few["timed"] == many["timed"] == 5
    assert few["p50_us"] > 0 and few["p90_us"] >= few["p50_us"] and many["restart_read_us"] > 0
    assert many["bytes_per_write"] <= HISTORY_BLOCK * 120  # a block: a change is under 120 bytes
    assert many["whole_bytes_per_write"] > 10 * few["whole_bytes_per_write"]


def test_the_monitor_table_holds_the_open_orders_of_the_day():
    row = measure_monitor(200, 20, 10)
    assert row["table"] == 20 and row["cancels"] == 20 and row["events"] == 20
