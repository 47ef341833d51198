"""The faust transport's commit rule without a broker: a commit waits for every queued table write
to be acknowledged, is skipped while one is not, and never happens again once one was refused; a
record faust's stream skipped unprocessed in a rebalance is never counted as acknowledged; the
partitions an app names are read from where it says, not from the committed offset (and why).

The app is a real faust app on `durable_transport`; the records are queued through a real topic's
`send_soon` (what a table write does), and their delivery is played by resolving their futures, as
faust does when the Kafka client reports it. The inner commit (to the broker) is replaced by a
recorder, since no broker runs here; `tests/processors/test_position_manager.py` covers the whole
path on a real one.
"""

from __future__ import annotations

import asyncio

import faust
import pytest
from intervaltree import IntervalTree
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP, ConsumerMessage, RecordMetadata

from streams import faust_transport
from streams.faust_transport import ChangelogNotDelivered, durable_transport, skipped_unprocessed

TP0 = TP("journal", 0)


class _Worker:
    """A faust app on `durable_transport`, its table writes (queued as a table queues them) and its
    commits; build it inside a running event loop."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        app = faust.App("durable-test", broker="kafka://127.0.0.1:1", web_enabled=False)
        self.app = durable_transport(app, on_changelog_failure=self.failures.append)
        self._changelog = self.app.topic("t-changelog", key_type=bytes, value_type=bytes)

    def write(self, key: bytes, value: bytes = b"state"):
        return self._changelog.send_soon(key=key, value=value, partition=0)

    async def commit(self, offset: int) -> bool:
        return await self.app.consumer._commit({TP0: offset})


def _metadata(offset: int) -> RecordMetadata:
    return RecordMetadata(topic="durable-test-t-changelog", partition=0, topic_partition=TP("t", 0), offset=offset)


@pytest.fixture
def committed(monkeypatch) -> list[dict]:
    """What reached the broker's commit (recorded instead of sent)."""
    sent: list[dict] = []

    async def commit(self, offsets):
        sent.append(dict(offsets))
        return True

    monkeypatch.setattr(faust_aiokafka.Consumer, "_commit", commit)
    monkeypatch.setattr(faust_transport, "DELIVERY_WAIT_S", 0.2)
    return sent


def test_a_commit_waits_until_the_queued_table_writes_are_acknowledged(committed):
    async def scenario():
        worker = _Worker()
        first, second = worker.write(b"p/A|X"), worker.write(b"0/offset/journal", b"7")
        commit = asyncio.ensure_future(worker.commit(8))
        await asyncio.sleep(0.05)
        first.set_result(_metadata(0))
        await asyncio.sleep(0.05)
        assert not commit.done() and committed == []  # one write still on its way
        second.set_result(_metadata(1))
        return worker, await commit

    worker, done = asyncio.run(scenario())
    assert done is True
    assert committed == [{TP0: 8}]
    assert worker.failures == []


def test_a_commit_is_skipped_while_a_write_is_not_acknowledged_and_made_by_a_later_one(committed):
    async def scenario():
        worker = _Worker()
        slow = worker.write(b"p/A|X")
        skipped = await worker.commit(8)
        slow.set_result(_metadata(0))
        return worker, skipped, await worker.commit(9)

    worker, skipped, done = asyncio.run(scenario())
    assert (skipped, done) == (False, True)
    assert committed == [{TP0: 9}]
    assert worker.failures == []


def test_after_a_refused_write_nothing_is_committed_and_the_failure_is_reported(committed):
    async def scenario():
        worker = _Worker()
        worker.write(b"p/A|X").set_exception(RuntimeError("MessageSizeTooLarge"))
        worker.write(b"p/A|X", b"state-2").set_result(_metadata(1))
        results = await worker.commit(8), await worker.commit(9)
        with pytest.raises(ChangelogNotDelivered, match="MessageSizeTooLarge"):
            await worker.app.producer.delivered(0.1)
        return worker, results

    worker, results = asyncio.run(scenario())
    assert results == (False, False)
    assert committed == []
    assert len(worker.failures) == 2 and "t-changelog[0] key b'p/A|X'" in worker.failures[0]
    assert "MessageSizeTooLarge" in worker.failures[0]


# ------------------------------------------------------------------ records skipped in a rebalance


def _fetched(worker: _Worker, offset: int, generation: int | None) -> ConsumerMessage:
    """A journal record as the consumer hands it to a stream, fetched in consumer generation `generation`."""
    return ConsumerMessage("journal", 0, offset, 0.0, 0, None, b"ACC", b"fill", None, tp=TP0,
                           generation_id=generation)


def _acked(worker: _Worker) -> list[int]:
    return list(worker.app.consumer._acked.get(TP0, []))


async def _acking_worker() -> _Worker:
    worker = _Worker()
    worker.app.topics.add(worker.app.topic("journal"))  # an agent's topic: its records are acknowledged
    await worker.app.topics._update_indices()  # what subscribing does
    worker.app.consumer_generation_id = 4
    worker.app.flow_control.resume()
    return worker


def test_a_record_handled_in_the_current_generation_is_acknowledged():
    async def scenario():
        worker = await _acking_worker()
        accepted = worker.app.consumer.ack(_fetched(worker, 7, generation=4))
        return accepted, _acked(worker)

    accepted, acked = asyncio.run(scenario())
    assert accepted is True
    assert acked == [7]


def test_a_record_of_an_earlier_generation_skipped_by_the_stream_is_not_acknowledged():
    async def scenario():
        worker = await _acking_worker()
        stale = _fetched(worker, 7, generation=3)
        accepted = worker.app.consumer.ack(stale)
        again = worker.app.consumer.ack(_fetched(worker, 7, generation=4))  # read again, then handled
        return accepted, stale.acked, again, _acked(worker)

    accepted, done_with, again, acked = asyncio.run(scenario())
    assert accepted is False and done_with is True
    assert again is True
    assert acked == [7]  # once, for the record handled in the new generation


def test_a_record_met_while_a_rebalance_suspends_the_flow_is_not_acknowledged():
    async def scenario():
        worker = await _acking_worker()
        worker.app.flow_control.suspend()
        accepted = worker.app.consumer.ack(_fetched(worker, 7, generation=4))
        return accepted, _acked(worker)

    accepted, acked = asyncio.run(scenario())
    assert accepted is False
    assert acked == []


def test_skipped_unprocessed_is_faust_streams_skip_condition():
    assert skipped_unprocessed(4, 4, flow_active=True) is False
    assert skipped_unprocessed(3, 4, flow_active=True) is True
    assert skipped_unprocessed(None, 4, flow_active=True) is True
    assert skipped_unprocessed(4, 4, flow_active=False) is True


# ------------------------------------------------------------------ where reading resumes


class _Bookkeeping:
    """faust's offset bookkeeping alone (`Consumer._new_offset`), on the state it reads."""

    _new_offset = faust_aiokafka.Consumer._new_offset

    def __init__(self, committed: int, acked: list[int]) -> None:
        self._committed_offset = {TP0: committed}
        self._acked = {TP0: list(acked)}
        self._acked_index = {TP0: set(acked)}
        self._gap = {TP0: IntervalTree()}


def test_fausts_bookkeeping_commits_past_an_unacknowledged_record_at_the_committed_offset():
    """Why the position manager does not resume at the committed offset (`resume_offsets`): faust lets
    one missing offset through at the head of the acknowledged ones, as it would a transaction marker,
    and any number when the committed offset is 0."""
    assert _Bookkeeping(committed=31, acked=[32, 33])._new_offset(TP0) == 34  # 31 never acknowledged
    assert _Bookkeeping(committed=31, acked=[33, 34])._new_offset(TP0) is None
    assert _Bookkeeping(committed=0, acked=[5, 6])._new_offset(TP0) == 7  # 0 to 4 never acknowledged


def test_the_partitions_resume_offsets_names_are_read_from_where_it_says(monkeypatch):
    tp1 = TP("journal", 1)
    seeks: list[tuple[TP, int]] = []

    async def seek_to_committed(self):
        return {TP0: 40, tp1: 10, TP("changelog", 0): None}

    async def seek(self, tp, offset):
        seeks.append((tp, offset))

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(faust_aiokafka.Consumer, "_seek", seek)
    asked: list[list[TP]] = []

    def resume_offsets(tps):
        asked.append(sorted(tps))
        return {TP0: 32, tp1: 10}  # TP0 behind its committed offset; tp1 where it is committed

    async def scenario():
        app = durable_transport(faust.App("resume-test", broker="kafka://127.0.0.1:1", web_enabled=False),
                                resume_offsets=resume_offsets)
        return await app.consumer.seek_to_committed()

    offsets = asyncio.run(scenario())
    assert offsets == {TP0: 32, tp1: 10, TP("changelog", 0): None}  # what faust takes as read and committed
    assert seeks == [(TP0, 32)]
    assert asked == [sorted([TP0, tp1, TP("changelog", 0)])]


def test_without_resume_offsets_the_committed_offsets_stand(monkeypatch):
    async def seek_to_committed(self):
        return {TP0: 40}

    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_to_committed", seek_to_committed)

    async def scenario():
        app = durable_transport(faust.App("resume-test-2", broker="kafka://127.0.0.1:1", web_enabled=False))
        return await app.consumer.seek_to_committed()

    assert asyncio.run(scenario()) == {TP0: 40}


def _holding_app(name: str, monkeypatch, resumed: list[set[TP]], seek_generation_change: bool = False):
    """An app on `durable_transport` governing topic "journal", with faust's committed-offset seek and
    `resume_partitions` replaced by recorders (`resumed` gets each set faust's own resume is given)."""

    def resume_partitions(self, tps):
        resumed.append(set(tps))

    async def seek_to_committed(self):
        if seek_generation_change:
            self.app.consumer_generation_id += 1  # another rebalance while the offsets were looked up
        return {TP0: 40, TP("journal", 1): 7, TP("marketdata", 0): 3}

    async def seek(self, tp, offset):
        pass

    monkeypatch.setattr(faust_aiokafka.Consumer, "resume_partitions", resume_partitions)
    monkeypatch.setattr(faust_aiokafka.Consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(faust_aiokafka.Consumer, "_seek", seek)
    return durable_transport(faust.App(name, broker="kafka://127.0.0.1:1", web_enabled=False),
                             resume_offsets=lambda tps: {TP0: 32}, resume_topics=["journal"])


def test_the_governed_partitions_are_fetched_only_once_their_generation_is_seeked(monkeypatch):
    """faust resumes fetching before it seeks: records fetched from the committed offset in between would
    reach the agent before the seek moved it back, and a record below the committed offset that it never
    handled would then be skipped as applied. The governed topic's partitions wait for the seek."""
    resumed: list[set[TP]] = []
    journal1, marketdata = TP("journal", 1), TP("marketdata", 0)

    async def scenario():
        app = _holding_app("hold-test", monkeypatch, resumed)
        app.consumer_generation_id = 5
        app.consumer.resume_partitions({TP0, journal1, marketdata})  # what faust does before perform_seek
        assert resumed == [{marketdata}]  # the journal's partitions are held back
        await app.consumer.seek_to_committed()
        assert resumed == [{marketdata}, {TP0, journal1}]  # resumed once read from where the state ends
        app.consumer.resume_partitions({TP0})  # the same generation, after its seek: straight through
        assert resumed[-1] == {TP0}
        app.consumer_generation_id = 6  # a rebalance: held back again until the new generation's seek
        app.consumer.resume_partitions({TP0, marketdata})
        assert resumed[-1] == {marketdata}
        await app.consumer.seek_to_committed()
        assert resumed[-1] == {TP0}

    asyncio.run(scenario())


def test_a_seek_overtaken_by_another_rebalance_resumes_nothing(monkeypatch):
    resumed: list[set[TP]] = []

    async def scenario():
        app = _holding_app("hold-test-2", monkeypatch, resumed, seek_generation_change=True)
        app.consumer_generation_id = 5
        app.consumer.resume_partitions({TP0})
        await app.consumer.seek_to_committed()  # the generation moved on meanwhile: its own seek resumes them
        assert resumed == [set()]
        app.consumer.resume_partitions({TP0})  # generation 6, not yet seeked: still held back
        assert resumed == [set(), set()]

    asyncio.run(scenario())
