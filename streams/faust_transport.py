"""The faust side's Kafka transport: committed data in, and no input offset committed before the
table writes made so far are in their changelog topics.

Reading. faust-streaming builds its worker consumer `read_uncommitted`
unless the app itself runs exactly-once, so an at-least-once faust agent
would see the records of transactions the order engine aborted (a handler
fault, a broker outage) — fills that never happened. This transport's worker
consumer reads `read_committed`, like every other consumer of the OMS.

Committing. A faust table write (`table[key] = value`) only queues a
changelog record in faust's producer buffer (`Table.send_changelog` ->
`Topic.send_soon` -> `ProducerBuffer.put`); a background task hands it to
the Kafka client later. faust's at-least-once commit
(`Consumer._commit_offsets`) flushes before it commits, but that flush does
not wait for those records: `ProducerBuffer.flush_atmost` returns once 0.1 s
pass without one leaving the buffer, does not count the record the
background task is handing over, and the Kafka client's flush
(`AIOKafkaProducer.flush`) ignores failed deliveries. So the offset of an
input whose state writes were still queued was committed, and a kill -9 lost
the writes: the next owner restored a state without them and never read the
input again. Here the producer keeps every queued record until the broker
acknowledged it (acks=all, faust's default), and the consumer commits only
once every record queued before the commit started is acknowledged: an input
is acknowledged to faust after its handler made its table writes, so they are
among those records. Waiting does not hold the agents up (the commit runs in
its own task); while the broker does not acknowledge within
`DELIVERY_WAIT_S`, that commit is skipped and the inputs are committed by a
later one (or re-read by the next owner: at-least-once). A record the broker
refused is fatal: the changelog misses a write, so nothing is ever committed
again in this process and `on_changelog_failure` is told, for the worker to
stop and its successor to resume from the last sound commit.

Skipped records. During a rebalance faust's stream skips the records it
fetched in the previous consumer generation, and those it meets while the
flow is suspended, and acknowledges them anyway; counted as acknowledged,
such an offset could be committed before the new generation read the record
again. This consumer refuses those acknowledgements (`skipped_unprocessed`),
so an offset is committed only for records an agent handled.

Where reading resumes. faust starts each assigned partition at the group's
committed offset, and its offset bookkeeping (`faust.transport.consumer.Consumer._new_offset`)
can commit past a record no agent handled: it lets one missing offset through
at the head of the acknowledged ones, as it would a transaction marker. An
app whose state carries its own read position passes `resume_offsets` and the
topics it governs (`resume_topics`): after the committed offsets are looked
up, at every rebalance and once the tables are restored, each partition it
names is read from the offset it gives instead (earlier or later than the
committed one). faust resumes fetching a partition before it seeks it
(`Recovery.on_recovery_completed`, `_resume_streams`: `resume_partitions`,
then `perform_seek`, with the flow already running), so for the length of
the committed-offset lookup the agent could be handed records from the
committed offset, and the seek would then move it back: an app that skips
what its state marks applied would skip, as done, a record below the
committed offset that it never handled. So the partitions of `resume_topics`
stay paused until the seek of their consumer generation is done
(`resume_partitions` holds them back; `seek_to_committed` resumes them): in
each generation the first record an agent sees of such a partition is the
one at the offset the app gave, and reading is in order from there.

Call `durable_transport(app, ...)` right after creating the app, before any
topic or agent touches `app.transport`. It also hands the app the process's
SASL/TLS client security (`streams.security.faust_credentials`), so faust's
clients authenticate like the confluent-kafka ones.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Iterable, Mapping

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP, FutureMessage

from streams.security import faust_credentials

__all__ = ["DELIVERY_WAIT_S", "ChangelogNotDelivered", "ResumeOffsets", "durable_transport", "skipped_unprocessed"]

log = logging.getLogger("oms.worker")
changelog_log = logging.getLogger("oms.worker.changelog")
"""At DEBUG, one line per table write the broker acknowledged (topic, partition, offset, key)."""

DELIVERY_WAIT_S = 30.0
"""How long one commit waits for the queued table writes to be acknowledged before it is skipped."""


ResumeOffsets = Callable[[Iterable[TP]], Mapping[TP, int]]
"""Given the assigned partitions, the offset to read each of those it names from (the others keep
the committed offset). It names only partitions of the transport's `resume_topics`."""


class ChangelogNotDelivered(RuntimeError):
    """The broker refused a table write (or it was cancelled): its changelog misses a record."""


class _DurableProducer(faust_aiokafka.Producer):
    """faust's aiokafka producer that remembers every queued record (`send_soon`: table
    changelog writes) until the broker acknowledges it, and the first one that failed."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._undelivered: set[FutureMessage] = set()
        self.failure: ChangelogNotDelivered | None = None

    def send_soon(self, fut: FutureMessage) -> None:
        self._undelivered.add(fut)
        fut.add_done_callback(self._on_done)
        super().send_soon(fut)

    def _on_done(self, fut: FutureMessage) -> None:
        self._undelivered.discard(fut)
        if changelog_log.isEnabledFor(logging.DEBUG) and not fut.cancelled() and fut.exception() is None:
            meta = fut.result()
            changelog_log.debug("%s[%d]@%s key %r acknowledged", meta.topic, meta.partition, meta.offset,
                                fut.message.key)
        self._note_failure(fut)

    def _note_failure(self, fut: FutureMessage) -> None:
        error = "cancelled" if fut.cancelled() else fut.exception()
        if error is not None and self.failure is None:
            message = fut.message
            self.failure = ChangelogNotDelivered(
                f"{message.channel.get_topic_name()}[{message.partition}] key {message.key!r}: {error}")

    async def delivered(self, timeout: float) -> bool:
        """Wait until every record queued so far is acknowledged: True when they are, False when
        `timeout` passed first; raises `ChangelogNotDelivered` once any queued record failed."""
        pending = list(self._undelivered)
        if pending:
            done, _ = await asyncio.wait(pending, timeout=timeout)
            for fut in done:
                self._note_failure(fut)
        if self.failure is not None:
            raise self.failure
        return all(fut.done() for fut in pending)


class _DurableConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any):
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"  # aiokafka hands it to its fetcher at start()
        return consumer


class _DurableConsumer(faust_aiokafka.Consumer):
    _seeked_generation: int | None = None
    """The consumer generation whose read positions `seek_to_committed` has set."""
    _held_back: frozenset[TP] = frozenset()
    """Partitions of `resume_topics` faust asked to resume before their generation's seek."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _DurableConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        """Resume fetching from `tps`, but for partitions of `resume_topics` while their generation's seek
        has not run: those are resumed by `seek_to_committed`, once read from where the app says."""
        tps = set(tps)
        if self._seeked_generation != self.app.consumer_generation_id:
            held = {tp for tp in tps if tp.topic in self.transport.resume_topics}
            self._held_back = self._held_back | held
            tps -= held
        super().resume_partitions(tps)

    def ack(self, message: Any) -> bool:
        """Record `message` as safe to commit, unless faust's stream skipped it unprocessed: a record of
        an earlier consumer generation, or one drained while a rebalance suspended the flow
        (`faust.streams.Stream._py_aiter` acknowledges those too, "otherwise the lag would
        increase"). Counted as acknowledged, such an offset could be committed before the new
        generation has read the record again from the committed offset, and a kill -9 in between
        would lose it. Refused, its offset waits for the record's processing in the new generation
        (or for the next owner: at-least-once, and the agents are idempotent)."""
        if skipped_unprocessed(getattr(message, "generation_id", None), self.app.consumer_generation_id,
                               self.app.flow_control.is_active()):
            message.acked = True  # this object is done with; the new generation brings its own
            return False
        return super().ack(message)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """faust's seek to the committed offsets (`perform_seek`, at each rebalance once the tables are
        restored), then each partition the transport's `resume_offsets` names is moved to the offset it
        gives; returns the offsets read from, which faust takes as its read and committed positions."""
        generation = self.app.consumer_generation_id
        offsets = dict(await super().seek_to_committed())
        for tp, offset in self.transport.resume_offsets(list(offsets)).items():
            if tp in offsets and offsets[tp] != offset:
                log.info("%s[%d]: reading from %d, where the state ends (the group committed %s)", tp.topic,
                         tp.partition, offset, offsets[tp])
                await self._seek(tp, offset)
                offsets[tp] = offset
        held, self._held_back = self._held_back, frozenset()
        if generation == self.app.consumer_generation_id:  # else the next generation seeks (and resumes) again
            self._seeked_generation = generation
            super().resume_partitions(held & set(offsets))
        return offsets

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        producer = self.app.producer
        if not isinstance(producer, _DurableProducer):
            raise TypeError("the app's producer must come from durable_transport(app)")
        try:
            if not await producer.delivered(DELIVERY_WAIT_S):
                log.warning("table writes not acknowledged within %.0fs: offsets %s not committed this time",
                            DELIVERY_WAIT_S, dict(offsets))
                return False
        except ChangelogNotDelivered as exc:
            reason = f"a table write was not delivered to its changelog, no offset is committed any more: {exc}"
            log.error("%s", reason)
            self.transport.on_changelog_failure(reason)
            return False
        return await super()._commit(offsets)


def skipped_unprocessed(message_generation: int | None, generation: int, flow_active: bool) -> bool:
    """Whether faust's stream skips a record with this generation instead of handing it to the agent
    (the condition in `faust.streams.Stream._py_aiter`): fetched in another consumer generation, or
    met while the flow is suspended for a rebalance."""
    return not flow_active or message_generation != generation


def _ignore(reason: str) -> None:
    pass


def _committed(tps: Iterable[TP]) -> Mapping[TP, int]:
    return {}


class _DurableTransport(faust_aiokafka.Transport):
    Consumer = _DurableConsumer
    Producer = _DurableProducer
    on_changelog_failure: Callable[[str], None] = staticmethod(_ignore)
    resume_offsets: ResumeOffsets = staticmethod(_committed)
    resume_topics: frozenset[str] = frozenset()


def durable_transport(app: faust.App, *, on_changelog_failure: Callable[[str], None] = _ignore,
                      resume_offsets: ResumeOffsets = _committed, resume_topics: Iterable[str] = ()) -> faust.App:
    """Give `app` the transport of this module and the process's client security; returns the app.
    `on_changelog_failure(reason)` is called (at each refused commit) once a table write failed;
    `resume_offsets(partitions)` says where to read the partitions it names, all of `resume_topics`,
    from (see the module)."""
    if app._transport is not None:
        raise RuntimeError("durable_transport(app) must run before anything uses app.transport")
    credentials = faust_credentials()
    if credentials is not None:
        app.conf.broker_credentials = credentials
    transport = _DurableTransport(app.conf.broker_consumer, app)
    transport.on_changelog_failure = on_changelog_failure
    transport.resume_offsets = resume_offsets
    transport.resume_topics = frozenset(resume_topics)
    app.transport = transport
    return app
