"""A backtest's journal under a sandbox topic prefix on the real broker, exported back from the topic."""

from pathlib import Path

import pytest

from connectors.marketdata_files import load_files
from replay.backtest import BacktestConfig, publish_journal, run_backtest
from replay.export import export, journal_from_topic
from replay.models import Latency, VenueModel
from replay.strategies import PassiveMaker

DATA = sorted(Path("replay/data/backtest").glob("*.csv"))


@pytest.mark.kafka
def test_a_sandboxed_backtest_journal_exports_from_the_topic_as_from_memory(bootstrap_servers, unique_name):
    from oms.config import Settings
    from streams.runtime import connect

    rt = connect(Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}.sandbox."))
    rt.ensure_topics()
    result = run_backtest(list(load_files(DATA))[:300], PassiveMaker("AAPL"),
                          BacktestConfig(venues={"SIM-A": VenueModel(entry=Latency(100_000)), "SIM-B": VenueModel()}))
    assert publish_journal(result, rt) == len(result.journal) > 0
    errors: list[str] = []
    totals, offsets = [], []
    from_topic = export(journal_from_topic(rt, errors=errors, on_total=totals.append, on_record=offsets.append))
    in_memory = export(result.journal)
    assert errors == []
    assert totals == [len(offsets)] == [len(result.journal)]
    key = lambda r: r["order_id"]
    assert sorted(from_topic.orders, key=key) == sorted(in_memory.orders, key=key)
    assert sorted(from_topic.fills, key=lambda r: r["fill_id"]) == sorted(in_memory.fills, key=lambda r: r["fill_id"])
    middle = sorted(e.ts_event for e in result.journal)[len(result.journal) // 2]
    read: list[int] = []
    early = export(journal_from_topic(rt, until_ns=middle, on_record=read.append), as_of=middle)
    assert len(read) < len(result.journal)  # each partition stops at its first event after the time
    assert sorted(early.orders, key=key) == sorted(export(result.journal, as_of=middle).orders, key=key)
    assert len(early.journal) == sum(1 for e in result.journal if e.ts_event <= middle)


@pytest.mark.kafka
def test_recorded_commands_are_read_back_from_the_commands_topic_in_time_order(bootstrap_servers, unique_name):
    from oms.config import Settings
    from replay.backtest import Context
    from replay.export import commands_from_topic
    from streams.runtime import connect

    rt = connect(Settings(bootstrap_servers=bootstrap_servers, topic_prefix=f"{unique_name}."))
    rt.ensure_topics()
    ctx = Context("ACC", "trader")
    sent = []
    for i, account in enumerate(("ACC-1", "ACC-2", "ACC-1")):
        ctx.now = 1_717_425_000_000_000_000 + (3 - i) * 1_000
        sent.append(ctx.buy("AAPL", 10 + i).model_copy(update={"account": account}))
    producer = rt.event_producer()
    for command in sent:
        producer.send(rt.topics.commands, command.account, command)
    producer.flush()
    assert commands_from_topic(rt) == sorted(sent, key=lambda c: c.ts_event)
