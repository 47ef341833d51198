"""An exactly-once stream processor on Kafka transactions, with its state in RocksDB.

    consume a batch → handler(state, message) for each → produce outputs and
    state changes → send the consumed offsets → commit, all in one transaction
    → then write the state changes to RocksDB in one batch.

The state store is a local RocksDB cache of a compacted changelog topic. Each
state change is written to the changelog partition of the input that caused
it, in the same transaction as the outputs and the consumed offsets, so the
changelog holds exactly the committed state. When a partition is assigned, its
slice of the store is brought up to the changelog (read_committed), so a worker
killed at any point restarts from committed state only: from the slice's
checkpoint, the changelog offset below which the store holds every committed
record (written in the same RocksDB batch as the state after each commit), so
a restart reads only what the local store lacks; a slice without one is
rebuilt from the start. On top of the
transaction, the last applied input offset per partition is kept in the state
itself (in the same RocksDB write as the state change; `streams.idempotence`,
the same mechanism the faust position manager uses): an input delivered twice
is skipped. Handlers receive neutral `streams.records.Record`s; a handler that
raises has its input dead-lettered (`streams.records.dead_letter`) and the
processor goes on.

A batch is every input already fetched (up to `batch_size`) after waiting for
the first: one transaction however many. Its state changes go to the
changelog once per key, with the last value. The transactional calls run on
one thread per producer (`TransactionCalls`, the watchdog), and the end of a
batch hands them over once: send the offsets, commit, and begin the next
transaction. Each phase of a transaction is timed (`oms_loop_phase_seconds`).

The loop survives the broker going away and coming back. Every transactional
call has a timeout, and each failure is met as librdkafka's transactional API
prescribes (`remedy`): a retriable error retries the same call (bounded, with
backoff, while not stopping); an abortable one aborts the transaction and
rewinds the consumer to the committed offsets (the staged state is dropped:
RocksDB is written only after a commit succeeded); a fatal error, fencing, a
commit whose outcome stays unknown, or an abort that cannot be done closes the
producer, builds a new one with the same transactional id (`init_transactions`
completes or aborts whatever the old one left open), restores the assigned
partitions' state from the changelog and resumes from the committed offsets.
Whether a commit in doubt went through or not, the changelog and the committed
offsets agree, so no input is applied twice or lost. A single-node broker
killed right after it acknowledged a commit can lose that transaction's commit
markers when it restarts (its coordinator, loading, finds the partitions
leaderless and skips them as deleted; measured on Kafka 4.3.1): the records
stay above the last stable offset, the offsets stay pending in the group, and a
committed read of the offsets never returns. Only this producer can end that
transaction, and after each restore (and when `_rewind` cannot read the
committed offsets) the loop commits the input offsets its store holds in a
transaction of its own (`_settle`): that commit marker commits the pending
offsets, and the consumer reads on from where the restored state ends (a batch
fetched before the restore that does not start there is put back). Records left
open end with the next marker of this producer on their partition, whichever it
is, so they are ended on purpose: a restore that finds a checkpoint still above the changelog's last stable offset after
`MARKERS_WAIT_S`, or the record below one aborted, aborts a transaction that
writes an empty record to each partition of the changelog and of the output
topics written so far and sends the offsets (`_abort_open_records`; committed
reads never see it), and then rebuilds those slices from what is committed. The
store then holds only committed state, the offsets committed next are its own,
and the inputs of the transaction left open are applied again, once (when the
offsets cannot be read, every assigned partition is restored before they are
committed). The other way round, the broker may keep a commit's markers on
the changelog and lose them on an output partition: the state holds the inputs
as applied while their outputs stay open, and the next marker of this producer
there (an abort's, when a recovery aborts the transaction under way) would end
them as aborted. So after every recovery the outputs of the last committed
transaction (kept with their offsets from the delivery reports) are read back:
those not committed on their partition whose inputs the state holds are ended
as aborted where they may still be open and sent again in the next transaction
(`_resend_lost_outputs`), once. One case stays beyond repair: a broker that wrote the lost
commit's markers on some partitions and not others leaves that commit's
outputs visible where they were written, and applying its inputs again shows
those outputs a second time, the same records with the same ids (no marker
can commit another producer epoch's records; ending them as aborted is the
only end there is). A producer given up is purged before it is closed, so that it adds
no partitions to its transaction once the broker is back. Each fault episode is
logged once (WARNING, ERROR for a rebuild) and once more when it is over;
`health` tells RUNNING, RECOVERING or FAILED, the last error and the time of
the last commit. The `stop` event ends the loop within about one call timeout
whatever the broker does.
"""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from hostio import name_thread
from oms import keys
from oms.clock import Clock
from oms.events import Event
from oms.state import RocksStore
from streams.codec import Codec, encode_key
from streams.idempotence import already_applied, last_applied, mark_applied, partition_key
from streams.reader import ReadError, TopicReader
from streams.records import Record, dead_letter
from streams import metrics
from streams.security import connection

log = logging.getLogger("oms.processor")

Output = tuple[str, str, Event]
"""(topic, key, event) to produce."""

CALL_TIMEOUT_S = 10.0
"""Longest one transactional call (or offset fetch) may block the loop."""
RETRIES = 5
"""Attempts of one call that keeps failing with a retriable error before the fault is escalated."""
BACKOFF_S = (0.1, 2.0)
"""First and longest pause between two attempts (doubling)."""
WATCHDOG_GRACE_S = 5.0
"""How long past its own timeout a transactional call may take before its producer is given up."""
MARKERS_WAIT_S = 5.0
"""How long a restore waits for the commit markers of a transaction its checkpoint is past (written
right after the commit returned) before it takes them for lost and rebuilds the slice."""
REPORT_EVERY_S = 10.0
"""While a fault episode lasts, how often its latest error is logged again."""
SESSION_TIMEOUT_MS = 10_000
"""How long the group coordinator waits for a silent consumer before giving its partitions to
another: the longest a surviving instance waits to take over from one that died and does not come
back. The processor's consumer is a static member (`group.instance.id` = its transactional id), so
the same instance restarted after kill -9 takes its partitions back at once, without waiting for
this timeout or a rebalance (measured: 43 s to process again after kill -9 as a dynamic member,
which waited out librdkafka's default 45 s session timeout)."""
TRANSACTION_TIMEOUT_MS = 60_000
"""How long the broker keeps a transaction open before aborting it itself."""
RETRY_BACKOFF_MS = 5
"""First pause before the transactional producer retries a request (librdkafka doubles it up to
`retry.backoff.max.ms`, 1 s). The transaction coordinator answers CONCURRENT_TRANSACTIONS to
AddPartitionsToTxn / AddOffsetsToTxn while the previous transaction's commit markers are still being
written, which is the common case when transactions follow each other closely (and on a freshly
started broker, nearly every time). With librdkafka's default of 100 ms each such answer cost 100 ms
in `send_offsets_to_transaction`; that wait, twice per order (the command and the fill report), was
most of the 200-340 ms between a command and its fill."""


# ---------------------------------------------------------- client settings


def transactional_consumer_config(bootstrap_servers: str, group_id: str, **extra) -> dict:
    """The processor's input consumer: group-managed, committed data only, offsets committed
    with the transaction (never by the consumer itself)."""
    return {
        **connection(bootstrap_servers),
        "group.id": group_id,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "range",
        **extra,
    }


def processor_consumer_config(bootstrap_servers: str, group_id: str, transactional_id: str) -> dict:
    """The processor's own consumer: `transactional_consumer_config` as a static group member named
    after its transactional id (unique per instance), with `SESSION_TIMEOUT_MS`."""
    return transactional_consumer_config(bootstrap_servers, group_id, **{
        "group.instance.id": transactional_id, "session.timeout.ms": SESSION_TIMEOUT_MS})


def transactional_producer_config(bootstrap_servers: str, transactional_id: str, **extra) -> dict:
    """The processor's transactional producer."""
    return {
        **connection(bootstrap_servers),
        "transactional.id": transactional_id,
        "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 1,
        "partitioner": "murmur2_random",
        "retry.backoff.ms": RETRY_BACKOFF_MS,
        **extra,
    }


# ------------------------------------------------------------------ faults


class Remedy(enum.Enum):
    """What the transactional API prescribes for an error."""

    RETRY = "retry"
    """Call the same operation again."""
    ABORT = "abort"
    """Abort the transaction and rewind the inputs to the committed offsets."""
    REBUILD = "rebuild"
    """Close the producer, build a new one, `init_transactions`, restore the state, resume."""


FENCED = frozenset({KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH})
"""Another producer with the same transactional id took over, or the broker bumped our epoch."""


def remedy(error: KafkaError) -> Remedy:
    """The remedy for an error from the transactional producer (librdkafka's order of checks:
    fatal first, then abortable, then retriable; anything else aborts the transaction)."""
    if error.fatal() or error.code() in FENCED:
        return Remedy.REBUILD
    if error.txn_requires_abort():
        return Remedy.ABORT
    if error.retriable():
        return Remedy.RETRY
    return Remedy.ABORT


CONSUMER_FATAL = frozenset({KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID})
"""Consumer errors that leave the consumer unusable whatever `fatal()` says: a static member fenced
by its own earlier member id (after a broker outage longer than its session) arrives as an error
event with code `_FATAL` whose `fatal()` is False, and the consumer never delivers again."""


def consumer_fatal(error: KafkaError | None) -> bool:
    """Whether a consumer error event means the consumer must be replaced."""
    return error is not None and (error.fatal() or error.code() in CONSUMER_FATAL)


class TransactionFault(Exception):
    """A transactional call failed with an error the loop must recover from with `remedy`."""

    def __init__(self, call: str, error: KafkaError | None, remedy: Remedy, why: str = "") -> None:
        super().__init__(f"{call}: {error if error is not None else why}")
        self.call = call
        self.error = error
        self.remedy = remedy
        self.why = str(error) if error is not None else why


class Stopping(Exception):
    """The stop event was set while the loop waited for the broker."""


class HealthState(enum.Enum):
    RUNNING = "RUNNING"
    RECOVERING = "RECOVERING"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Health:
    """The loop's health, replaced (never mutated) at each change."""

    state: HealthState = HealthState.RUNNING
    last_error: str | None = None
    last_commit_ns: int | None = None
    """Clock time of the last committed transaction."""
    since_ns: int | None = None
    """Clock time the current state began."""
    recoveries: int = 0
    """Fault episodes that ended (the loop running again)."""
    rebuilds: int = 0
    """Producers rebuilt (fatal errors, fencing, commits in doubt)."""


class PartitionState:
    """The state of one input partition as the handler sees it: reads fall through
    staged writes to the store; writes are staged until the transaction commits."""

    def __init__(self, store: RocksStore, partition: int, staged: dict[bytes, bytes]) -> None:
        self._store = store
        self._partition = partition
        self._staged = staged
        self._own: dict[bytes, bytes] = {}
        self.written: list[tuple[bytes, bytes]] = []

    def get(self, key: str) -> bytes | None:
        full = partition_key(self._partition, key)
        for layer in (self._own, self._staged):
            if full in layer:
                return layer[full]
        return self._store.get(full)

    def put(self, key: str, value: bytes) -> None:
        self._own[partition_key(self._partition, key)] = value
        self.written.append((key.encode(), value))

    def items(self, prefix: str) -> list[tuple[str, bytes]]:
        """Every (key, value) under `prefix` in key order, staged writes over the store (a scan:
        for what must list a key range, never for a per-input read)."""
        full = partition_key(self._partition, prefix)
        found = dict(self._store.items(full))
        for layer in (self._staged, self._own):
            found.update((k, v) for k, v in layer.items() if k.startswith(full))
        cut = len(partition_key(self._partition, ""))
        return [(k[cut:].decode(), found[k]) for k in sorted(found)]

    def keep(self) -> None:
        """Make this input's writes visible to the rest of the batch (the handler succeeded)."""
        self._staged.update(self._own)


Handler = Callable[[PartitionState, Record], list[Output]]

Call = tuple[str, Callable, tuple, "Remedy"]
"""(name, transactional call, its arguments, the remedy when its retries run out)."""


class Sent(NamedTuple):
    """An output as the broker placed it, with the input it answers and the transaction it went in."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    source: tuple[str, int, int]
    """(topic, partition, offset) of the input that produced it."""
    transaction: int


@dataclass
class ProcessorStats:
    inputs: int = 0
    skipped: int = 0
    outputs: int = 0
    transactions: int = 0
    restored: int = 0
    started: float = field(default_factory=time.monotonic)


class TransactionalProcessor:
    def __init__(
        self,
        *,
        name: str,
        bootstrap_servers: str,
        group_id: str,
        transactional_id: str,
        inputs: list[str],
        changelog: str,
        store: RocksStore,
        codec: Codec,
        handler: Handler,
        deadletter: str | None = None,
        clock: Clock,
        batch_size: int = 500,
        poll_timeout: float = 0.05,
    ) -> None:
        self.name = name
        self.inputs = inputs
        self.changelog = changelog
        self.store = store
        self.codec = codec
        self.handler = handler
        self.deadletter = deadletter
        self.clock = clock
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.stats = ProcessorStats()
        self.health = Health(since_ns=clock.now_ns())
        self._bootstrap = bootstrap_servers
        self._transactional_id = transactional_id
        self._stop = threading.Event()
        self._episode_started = 0.0
        self._next_report = 0.0
        self._group_id = group_id
        self._consumer = Consumer({**processor_consumer_config(bootstrap_servers, group_id, transactional_id),
                                   **metrics.lag_config(group_id)})
        self._producer: Producer | None = None
        self._calls: TransactionCalls | None = None
        self._new_producer()
        self._to_restore: set[int] = set()
        self._consumer_failed: KafkaError | None = None
        """A fatal consumer error seen and not yet acted on (`_step` replaces the consumer)."""
        self._changelog_ends: dict[int, int] = {}
        """Changelog partition -> highest offset delivered in the current transaction."""
        self._begun = False
        """A transaction is begun and nothing is in it yet (begun right after the previous commit)."""
        self._written: set[str] = set()
        """The output topics this processor has produced to (`_abort_open_records` covers them)."""
        self._transaction = 0
        """Number of the transaction under way (`Sent.transaction`)."""
        self._sent: list[Sent] = []
        """The outputs delivered in the transaction under way (and late reports of earlier ones)."""
        self._last_commit: list[Sent] = []
        """The outputs of the last committed transaction, until a recovery has checked them."""
        self._resend: list[Sent] = []
        """Outputs of a committed transaction the broker ended as aborted, for the next transaction."""
        self._check_outputs = False
        """A recovery ended a transaction: whether the last commit's outputs are committed is to be seen."""

    def _new_producer(self) -> None:
        """A new transactional producer, with a new thread for its transactional calls (the previous
        producer's thread ends, or stays blocked on the producer given up)."""
        if self._calls is not None:
            self._calls.close()
        self._producer = Producer(transactional_producer_config(self._bootstrap, self._transactional_id))
        self._calls = TransactionCalls(f"{self.name}-txn")
        self._begun = False

    # ---------------------------------------------------------- partitions

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._to_restore |= {tp.partition for tp in partitions}

    def _restore(self, partitions: set[int]) -> None:
        """Bring the store's slice of each partition up to the changelog (committed records only):
        from the slice's checkpoint (`oms.keys.changelog_checkpoint`: every committed record below
        it is in the store) when it has one, else rebuilt from the start. Only what the local store
        lacks is read, so a restart after kill -9 reads the few records committed after the last
        store write, not the whole changelog. A checkpoint past the changelog's end (a changelog
        recreated under the store), or past its last stable offset for longer than `MARKERS_WAIT_S` (commit
        markers lost), is not trusted: that slice is rebuilt from what is committed."""
        started = time.monotonic()
        restored = self.stats.restored
        reader = TopicReader.connect(self._bootstrap, f"{self.name}-restore")
        try:
            marks = reader.watermarks(self.changelog, partitions)
            settling = time.monotonic() + MARKERS_WAIT_S
            while any(int(raw) > marks[p][1] for p in partitions
                      if (raw := self.store.get(partition_key(p, keys.changelog_checkpoint()))) is not None):
                if time.monotonic() > settling or self._stop.wait(0.2):
                    break  # markers still missing
                marks = reader.watermarks(self.changelog, partitions)
            untrusted = set()
            for p in partitions:
                raw = self.store.get(partition_key(p, keys.changelog_checkpoint()))
                if raw is not None and (int(raw) > marks[p][1] or not self._committed_below(p, int(raw))):
                    untrusted.add(p)
            if untrusted:  # markers lost: end every record of this producer still open, as aborted
                self._abort_open_records()
                marks = reader.watermarks(self.changelog, partitions)
            checkpoints: dict[int, int] = {}
            for p in partitions:
                raw = self.store.get(partition_key(p, keys.changelog_checkpoint()))
                if raw is not None and p not in untrusted:
                    checkpoints[p] = int(raw)
                else:
                    self.store.delete_prefix(partition_key(p, ""))
            reader.assign(self.changelog, partitions=partitions, skip_empty=True, from_offsets=checkpoints)
            batch: list[tuple[bytes, bytes]] = []
            for record in reader.records(idle_timeout=30):
                batch.append((partition_key(record.partition, "") + (record.key or b""), record.value))
                self.stats.restored += 1
                if len(batch) >= 10_000:
                    self.store.write_batch(batch)
                    batch = []
            for p in partitions:  # the store now holds every committed record below the read position
                done = reader.positions.get((self.changelog, p), checkpoints.get(p, marks[p][0]))
                batch.append((partition_key(p, keys.changelog_checkpoint()), str(done).encode()))
            self.store.write_batch(batch)
        finally:
            reader.close()
        log.info("%s: restored partitions %s from %s (%d records; from checkpoints %s) in %.1fs", self.name,
                 sorted(partitions), self.changelog, self.stats.restored - restored, checkpoints,
                 time.monotonic() - started)

    def _committed_below(self, partition: int, checkpoint: int) -> bool:
        """Whether the changelog record just below `checkpoint` (the last one of the transaction that
        wrote it) is committed: a committed read from there returns it, and skips it when it was
        aborted (a read of every record still returns it; compaction removes it from both). A
        transaction acknowledged as committed is aborted only where the broker lost its commit
        markers and an abort of this producer ended its records instead."""
        if checkpoint <= 0:
            return True
        committed, written = (self._first_from(checkpoint - 1, isolation, topic=self.changelog, partition=partition)
                              for isolation in ("read_committed", "read_uncommitted"))
        return committed == checkpoint - 1 or written != checkpoint - 1

    def _first_from(self, offset: int, isolation: str, *, topic: str, partition: int) -> int | None:
        """The offset of the first record of `topic`[`partition`] at or after `offset` a read with
        `isolation` returns (None at the end: a committed read ends at the last stable offset)."""
        probe = Consumer({**connection(self._bootstrap), "group.id": f"{self.name}-restore",
                          "isolation.level": isolation, "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            probe.assign([TopicPartition(topic, partition, offset)])
            deadline = time.monotonic() + CALL_TIMEOUT_S
            while time.monotonic() < deadline:
                message = probe.poll(0.2)
                if message is None:
                    continue
                error = message.error()
                if error is None:
                    return message.offset()
                if error.code() == KafkaError._PARTITION_EOF:
                    return None
                raise KafkaException(error)
            raise TimeoutError(f"{topic}[{partition}]@{offset} not read within {CALL_TIMEOUT_S:.0f}s")
        finally:
            probe.close()

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        """Delivery of a changelog record: note the highest offset per partition (the checkpoint)."""
        if error is None and message.offset() is not None and message.offset() >= 0:
            partition = message.partition()
            if message.offset() > self._changelog_ends.get(partition, -1):
                self._changelog_ends[partition] = message.offset()

    def _output_delivered(self, source: tuple[str, int, int], transaction: int, error: KafkaError | None,
                          message: Message) -> None:
        """Delivery of an output: kept (`_sent`) with its input and transaction, for `_resend_lost_outputs`."""
        if error is None and message.offset() is not None and message.offset() >= 0:
            self._sent.append(Sent(message.topic(), message.partition(), message.offset(), message.key(),
                                   message.value(), source, transaction))

    def _resend_lost_outputs(self) -> None:
        """After a recovery: the outputs of the last committed transaction that are not committed on
        their partition, though the state holds their inputs as applied, go out again in the next
        transaction (`_resend`). A restarted broker can lose a commit's markers on some partitions and
        keep them on others: where it kept them on the changelog but lost them on an output partition,
        the outputs stay open there, and the next marker of this producer on that partition ends them,
        as aborted when it is an abort's (the transaction under way when the broker went, aborted by
        the recovery). Outputs still open are ended as aborted first (`_abort_open_records`), so that a
        later commit cannot show them beside their copies. Outputs whose inputs the state does not hold
        are left alone: their inputs are applied again and produce them again."""
        last = self._last_commit
        held = [sent for sent in last if self._holds(sent.source)]
        ends: dict[tuple[str, int], int] = {}
        for sent in held:
            ends[(sent.topic, sent.partition)] = max(ends.get((sent.topic, sent.partition), -1), sent.offset)
        read = {tp: self._first_from(offset, "read_committed", topic=tp[0], partition=tp[1])
                for tp, offset in ends.items()}
        lost = {tp for tp, first in read.items() if first != ends[tp]}
        if lost:
            if any(read[tp] is None for tp in lost):  # nothing committed from there: perhaps still open
                self._abort_open_records()
            self._resend = [sent for sent in held if (sent.topic, sent.partition) in lost]
            log.warning("%s: %d outputs of the last committed transaction were not committed on %s; sending "
                        "them again", self.name, len(self._resend),
                        ", ".join(f"{t}[{p}]" for t, p in sorted(lost)))
        self._last_commit = []

    def _holds(self, source: tuple[str, int, int]) -> bool:
        """Whether the store holds the input at `source` (topic, partition, offset) as applied."""
        topic, partition, offset = source
        applied = last_applied(PartitionState(self.store, partition, {}), topic)
        return applied is not None and applied >= offset

    # ---------------------------------------------------------------- loop

    def run(self, stop: threading.Event) -> ProcessorStats:
        self._stop = stop
        try:
            self._init_transactions()
            self._recovered()
            metrics.processor_health(self.name, self.health.state.value)
            self._consumer.subscribe(self.inputs, on_assign=self._on_assign)
            log.info("%s: consuming %s", self.name, ", ".join(self.inputs))
            fault: TransactionFault | None = None
            while not stop.is_set():
                try:
                    if fault is None:
                        self._step()
                    else:
                        fault, recovering = None, fault
                        self._recover(recovering)
                except TransactionFault as raised:  # from a step, or from a recovery (settling the offsets)
                    fault = raised
        except Stopping:
            log.warning("%s: stopped while recovering from: %s", self.name, self.health.last_error)
        except BaseException as exc:
            self._set_health(HealthState.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._close()
        return self.stats

    def _step(self) -> None:
        # wait for the first message only, then take what is already fetched: a batch
        # never waits to fill up, so latency stays low at low rates
        started = time.perf_counter()
        messages = self._consumer.consume(1, self.poll_timeout)
        waited = time.perf_counter()
        if messages:
            messages += self._consumer.consume(self.batch_size - 1, 0)
        timings = [("wait", waited - started), ("fetch", time.perf_counter() - waited)]
        if self._to_restore:
            partitions, self._to_restore = self._to_restore, set()
            try:
                self._restore(partitions)
                self._settle(partitions)
                self._recovered()
            except TransactionFault:  # ending open records (or settling) failed: restored after the recovery
                self._to_restore |= partitions
                raise
            except (KafkaException, ReadError, TimeoutError) as exc:
                self._to_restore |= partitions
                self._put_back(messages, "restore", exc)
                return
            if self._read_on_from_store(partitions, messages):
                return
        if self._check_outputs:
            try:
                self._resend_lost_outputs()
                self._check_outputs = False
            except (KafkaException, ReadError, TimeoutError) as exc:
                self._put_back(messages, "checking the last commit's outputs", exc)
                return
        self._note_errors(messages)
        if self._consumer_failed is not None:
            fatal, self._consumer_failed = self._consumer_failed, None
            self._new_consumer(fatal)
            return
        messages = [m for m in messages if m.error() is None]
        if messages or self._resend:
            self._process(messages, timings)

    def _read_on_from_store(self, partitions: set[int], messages: list[Message]) -> bool:
        """After a restore of `partitions`: whether the batch `messages`, fetched from where the consumer
        stood before it, was put back to read on from where the restored state ends. That position may
        lie before the batch (a slice rebuilt without a commit whose changelog markers the broker lost
        while it kept them on the group's offsets) or after it. The consumer is then sought (locally) to
        the store's position on each restored partition, and to the batch's first offset on the others;
        otherwise the batch is processed as it is."""
        first: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.error() is None:
                first.setdefault((message.topic(), message.partition()), message.offset())
        stored = {(tp.topic, tp.partition): tp.offset for tp in self._store_positions(partitions)}
        if all(first.get(tp) == offset for tp, offset in stored.items()):
            return False
        try:
            for (topic, partition), offset in {**first, **stored}.items():
                self._consumer.seek(TopicPartition(topic, partition, offset))
        except KafkaException as exc:  # then from the group's offsets, which `_settle` made the store's
            self._put_back(messages, "seeking to where the restored state ends", exc)
            return True
        self._note_errors(messages)
        return True

    def _put_back(self, messages: list[Message], what: str, exc: Exception) -> None:
        """`what` failed before the batch `messages` was processed: note the fault, pause, and read the
        batch again from the committed offsets (the next step tries `what` again)."""
        self._fault(what, f"{type(exc).__name__}: {exc}")
        self._note_errors(messages)
        if self._stop.wait(1.0):
            raise Stopping() from exc
        self._rewind()

    def _note_errors(self, messages: list[Message]) -> None:
        """Keep a fatal consumer error for `_step` (whichever call consumed it: it is delivered once),
        and log the others (a consumer error is never dropped unseen)."""
        for message in messages:
            error = message.error()
            if error is None:
                continue
            if consumer_fatal(error):
                self._consumer_failed = self._consumer_failed or error
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("%s: consumer error: %s", self.name, error)

    def _new_consumer(self, error: KafkaError) -> None:
        """A new consumer in place of one a fatal error left unusable: a static member fenced by its
        own earlier member id after a broker outage longer than its session (librdkafka reports
        FENCED_INSTANCE_ID as fatal and the consumer never consumes again). The new one joins with
        the same instance id, is assigned its partitions again and restores them (`_on_assign`); the
        records consumed and not committed are read again from the committed offsets."""
        self._fault("consume", f"fatal consumer error, joining the group again: {error}")
        _bounded(self._consumer.close, 10.0, f"{self.name}: closing the failed consumer")
        self._consumer = Consumer({**processor_consumer_config(self._bootstrap, self._group_id, self._transactional_id),
                                   **metrics.lag_config(self._group_id)})
        self._consumer.subscribe(self.inputs, on_assign=self._on_assign)
        self.health = replace(self.health, rebuilds=self.health.rebuilds + 1)

    def _process(self, messages: list[Message], timings: list[tuple[str, float]]) -> None:
        staged: dict[bytes, bytes] = {}
        changes: dict[int, dict[bytes, bytes]] = {}
        self._changelog_ends = {}
        phase = _Phases(timings)
        if self._begin():
            phase.done("begin")
        self._transaction += 1
        try:
            for sent in self._resend:  # outputs of a committed transaction the broker ended as aborted
                self._producer.produce(sent.topic, key=sent.key, value=sent.value, partition=sent.partition,
                                       on_delivery=partial(self._output_delivered, sent.source, self._transaction))
            for message in messages:
                self._apply(message, staged, changes)
            self._write_changelog(changes)
        except KafkaException as exc:  # produce() refused: the producer is in an error state
            error = exc.args[0]
            raise TransactionFault("produce", error, remedy(error)) from exc
        except BufferError as exc:
            raise TransactionFault("produce", None, Remedy.ABORT, str(exc)) from exc
        phase.done("apply")
        inside = self._commit(self._consumer.position(self._consumer.assignment()))
        phase.done("commit")
        phase.split("commit", inside)
        self._producer.poll(0)  # serve any delivery report still queued (a missed one only lowers a checkpoint)
        checkpoints = [(partition_key(p, keys.changelog_checkpoint()), str(offset + 1).encode())
                       for p, offset in self._changelog_ends.items()]
        self.store.write_batch(list(staged.items()) + checkpoints)  # one atomic write: state and checkpoint
        phase.done("store")
        self._last_commit = [sent for sent in self._sent if sent.transaction == self._transaction]
        self._sent, self._resend = [], []
        self.stats.transactions += 1
        metrics.committed(self.name, len(messages))
        metrics.phases(self.name, phase.timings)
        self._committed()

    def _begin(self) -> bool:
        """Begin a transaction unless one is begun already; whether this call began it."""
        if self._begun:
            return False
        self._call("begin_transaction", self._producer.begin_transaction)
        self._begun = True
        return True

    def _commit(self, positions: list[TopicPartition]) -> dict[str, float]:
        """Send `positions` as the group's offsets, commit, and begin the next transaction, in one
        hand-over to the call thread; returns the seconds each call took there. A commit that keeps
        timing out is in doubt: only a new producer's init_transactions settles it."""
        self._begun = False
        inside = self._call_all([
            ("send_offsets_to_transaction", self._producer.send_offsets_to_transaction,
             (positions, self._consumer.consumer_group_metadata(), CALL_TIMEOUT_S), Remedy.ABORT),
            ("commit_transaction", self._producer.commit_transaction, (CALL_TIMEOUT_S,), Remedy.REBUILD),
        ], then=("begin_transaction", self._producer.begin_transaction))
        self._begun = "begin_transaction" in inside
        return inside

    def _restore_assigned(self) -> bool:
        """Restore every assigned partition from the changelog; whether that succeeded."""
        partitions = self._to_restore | {tp.partition for tp in self._consumer.assignment()}
        self._to_restore = set()
        try:
            self._restore(partitions)
            return True
        except (KafkaException, ReadError, TimeoutError) as exc:
            self._to_restore |= partitions
            self._fault("restore", f"{type(exc).__name__}: {exc}")
            return False
        except TransactionFault:  # ending open records failed: restored after the recovery
            self._to_restore |= partitions
            raise

    def _settle(self, partitions: set[int] | None = None) -> None:
        """Commit, in a transaction of its own, the input offsets the store says come next (after the
        last input applied) on each assigned partition (of `partitions`, or all). These are the group's
        committed offsets already, unless the broker lost the commit markers of a transaction of this
        producer (see the module docstring): then its offsets stay pending in the group, and a
        committed read of them (the consumer's, `_rewind`'s) never returns. This transaction's commit
        marker on the group's offsets partition ends them; the offsets sent replace them, and a
        transaction whose changelog records are not committed is thus applied again. A partition with
        no input applied yet is left out."""
        positions = self._store_positions(partitions)
        if not positions:
            return
        self._begin()
        self._commit(positions)
        log.info("%s: committed the input offsets the store holds: %s", self.name,
                 ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in positions))

    def _store_positions(self, partitions: set[int] | None) -> list[TopicPartition]:
        """The offset after the last input the store applied, per assigned partition (of `partitions`,
        or all) that has one."""
        positions = []
        for tp in self._consumer.assignment():
            if partitions is not None and tp.partition not in partitions:
                continue
            applied = self.store.get(partition_key(tp.partition, keys.applied_offset(tp.topic)))
            if applied is not None:
                positions.append(TopicPartition(tp.topic, tp.partition, int(applied) + 1))
        return positions

    def _abort_open_records(self) -> None:
        """End, as aborted, whatever records of this producer the broker left open (commit markers
        lost, see the module docstring) on the changelog, the output topics written so far and the
        group's offsets: a transaction that writes one empty record to each of their partitions and
        sends the store's offsets, then aborts. Its abort marker on each partition ends the open
        records there (a marker ends the producer's open transaction on a partition, whichever
        epoch began it); committed reads never see the empty records. The state is then rebuilt
        from what is committed and the inputs of that transaction applied again, once."""
        self._begin()
        try:
            for topic in sorted(self._written | {self.changelog}):
                metadata = self._producer.list_topics(topic, timeout=CALL_TIMEOUT_S).topics[topic]
                for partition in sorted(metadata.partitions):
                    self._producer.produce(topic, key=b"-", value=b"", partition=partition)
        except KafkaException as exc:
            error = exc.args[0]
            raise TransactionFault("produce", error, remedy(error)) from exc
        positions = self._store_positions(None)
        if positions:
            self._call("send_offsets_to_transaction", self._producer.send_offsets_to_transaction, positions,
                       self._consumer.consumer_group_metadata(), CALL_TIMEOUT_S)
        self._begun = False
        self._call("abort_transaction", self._producer.abort_transaction, CALL_TIMEOUT_S, exhausted=Remedy.REBUILD)
        self._check_outputs = True  # the last commit's outputs still open are now aborted
        log.warning("%s: commit markers missing on %s; open records ended as aborted, state rebuilt from what "
                    "is committed", self.name, self.changelog)

    def _apply(self, message: Message, staged: dict[bytes, bytes], changes: dict[int, dict[bytes, bytes]]) -> None:
        """One input: the handler's outputs produced, its state changes staged (and kept in `changes`, the
        batch's changelog records: the last value per key)."""
        record = Record.of(message)
        state = PartitionState(self.store, record.partition, staged)
        self.stats.inputs += 1
        if already_applied(state, record):
            self.stats.skipped += 1
            return
        try:
            outputs = self.handler(state, record)
            encoded = [(topic, encode_key(key), self.codec.encode(topic, event)) for topic, key, event in outputs]
        except Exception as exc:  # a handler bug must not stop the processor: keep the input, move on
            log.exception("%s: %s[%d]@%d failed; dead-lettered", self.name, record.topic, record.partition,
                          record.offset)
            state = PartitionState(self.store, record.partition, staged)  # drop the failed input's writes
            encoded = []
            if self.deadletter is not None:
                letter = dead_letter(record, f"{type(exc).__name__}: {exc}", self.name, self.clock.now_ns())
                encoded.append((self.deadletter, record.key, self.codec.encode(self.deadletter, letter)))
        delivered = partial(self._output_delivered, (record.topic, record.partition, record.offset), self._transaction)
        for topic, key, value in encoded:
            self._producer.produce(topic, key=key, value=value, on_delivery=delivered)
            self._written.add(topic)
            if topic == self.deadletter:
                metrics.dead_lettered(self.name)
            self.stats.outputs += 1
        mark_applied(state, record)
        state.keep()
        changes.setdefault(record.partition, {}).update(state.written)

    def _write_changelog(self, changes: dict[int, dict[bytes, bytes]]) -> None:
        """The batch's state changes to the changelog partition of the inputs that caused them: each key
        once, with its last value (the changelog is compacted: the values in between were never committed
        state). The last record of each partition reports its offset (`_delivered`: the checkpoint)."""
        for partition, written in changes.items():
            last = len(written) - 1
            for i, (key, value) in enumerate(written.items()):
                self._producer.produce(self.changelog, key=key, value=value, partition=partition,
                                       on_delivery=self._delivered if i == last else None)
        self._producer.poll(0)

    # ------------------------------------------------------------ recovery

    def _call(self, what: str, call: Callable, *args, exhausted: Remedy = Remedy.ABORT) -> None:
        """One transactional call (`_call_all` of one)."""
        self._call_all([(what, call, args, exhausted)])

    def _call_all(self, calls: list[Call], then: tuple[str, Callable] | None = None) -> dict[str, float]:
        """Transactional calls in order, handed to the producer's call thread together (one hand-over
        for all); returns the seconds each took there. A retriable error retries from the call that
        failed on (bounded, with backoff, while not stopping), then escalates to that call's remedy
        when exhausted; any other error raises its `TransactionFault`. `then` (what, call) runs after
        all succeeded, on the same hand-over, if it can: its error is not raised (it is in the result
        only when it succeeded, and the caller does it again later if it must)."""
        delay = BACKOFF_S[0]
        attempt = 0
        took: dict[str, float] = {}
        while True:
            done: list[str] = []

            def run() -> None:
                for what, call, args, _ in calls:
                    started = time.perf_counter()
                    call(*args)
                    took[what] = time.perf_counter() - started
                    done.append(what)
                if then is not None:
                    started = time.perf_counter()
                    try:
                        then[1]()
                        took[then[0]] = time.perf_counter() - started
                    except KafkaException:
                        pass  # done again, through `_call`, when it is needed

            try:
                self._calls.run(calls[0][0], run)
                return took
            except TransactionFault as hung:  # the watchdog: name the call that did not return
                what = calls[len(done)][0] if len(done) < len(calls) else then[0]
                raise TransactionFault(what, None, hung.remedy, hung.why) from hung
            except KafkaException as exc:
                what, _, _, exhausted = calls[len(done)]
                error = exc.args[0]
                prescribed = remedy(error)
                if prescribed is not Remedy.RETRY:
                    raise TransactionFault(what, error, prescribed) from exc
                self._fault(what, str(error))
                attempt = attempt + 1 if done == [] else 1  # each call has its own attempts
                calls = calls[len(done):]
                if attempt == RETRIES:
                    raise TransactionFault(what, error, exhausted) from exc
                if self._stop.wait(delay):
                    raise Stopping() from exc
                delay = min(delay * 2, BACKOFF_S[1])

    def _recover(self, fault: TransactionFault) -> None:
        self._begun = False
        self._sent = []  # the transaction under way is aborted (or left to the next producer to abort)
        self._check_outputs = True  # its abort marker may end the last commit's outputs, where still open
        self._fault(fault.call, fault.why, rebuild=fault.remedy is Remedy.REBUILD)
        if fault.remedy is Remedy.ABORT:
            log.warning("%s: aborting the transaction and rewinding to the committed offsets", self.name)
        if fault.remedy is Remedy.ABORT:
            try:
                self._call("abort_transaction", self._producer.abort_transaction, CALL_TIMEOUT_S,
                           exhausted=Remedy.REBUILD)
            except TransactionFault as second:
                self._fault(second.call, second.why, rebuild=True)
                self._rebuild()
        else:
            self._rebuild()
        self._rewind()
        self._recovered()

    def _rebuild(self) -> None:
        """A new producer in place of the old one; every assigned partition restored from the changelog."""
        old, self._producer = self._producer, None
        self._close_producer(old)
        self._new_producer()
        self._init_transactions()
        self._to_restore |= {tp.partition for tp in self._consumer.assignment()}
        self.health = replace(self.health, rebuilds=self.health.rebuilds + 1)
        log.warning("%s: new transactional producer ready; restoring %s from %s", self.name,
                    sorted(self._to_restore), self.changelog)

    def _init_transactions(self) -> None:
        """`init_transactions` until it succeeds or the loop stops (the broker may be away for long)."""
        delay = BACKOFF_S[0]
        while True:
            try:
                self._calls.run("init_transactions", self._producer.init_transactions, CALL_TIMEOUT_S)
                return
            except TransactionFault as hung:
                self._fault(hung.call, hung.why)
                self._new_producer()  # the hung one is left to its thread
            except KafkaException as exc:
                error = exc.args[0]
                self._fault("init_transactions", str(error))
                if remedy(error) is Remedy.REBUILD:  # a fatal error leaves this producer unusable
                    self._close_producer(self._producer)
                    self._new_producer()
            if self._stop.wait(delay):
                raise Stopping()
            delay = min(delay * 2, BACKOFF_S[1])

    def _rewind(self) -> None:
        """Consume again from the last committed offsets (after an abort or a rebuild), retried
        while the broker does not answer."""
        delay = BACKOFF_S[0]
        settled = False
        while True:
            try:
                assignment = self._consumer.assignment()
                committed = self._consumer.committed(assignment, timeout=CALL_TIMEOUT_S) if assignment else []
                for tp in committed:
                    self._consumer.seek(TopicPartition(tp.topic, tp.partition, max(tp.offset, 0)))
                return
            except KafkaException as exc:
                self._fault("rewind", str(exc.args[0]))
                if not settled and exc.args[0].code() == KafkaError._TIMED_OUT:
                    # offsets left pending by lost commit markers are never read back: bring the store
                    # to what the changelog shows committed, then commit its offsets (once; a
                    # transactional fault here is recovered from like any other)
                    settled = self._restore_assigned()
                    if settled:
                        self._settle()
            try:
                # Keep the group membership alive while the coordinator does not answer (rebalance
                # callbacks, max.poll.interval): what this returns is dropped, and the seek to the
                # committed offsets comes before anything is applied again.
                self._note_errors(self._consumer.consume(500, 0))
            except KafkaException as exc:
                self._fault("rewind", str(exc.args[0]))
            if self._consumer_failed is not None:
                return  # the next step replaces the consumer; its new assignment starts from the committed offsets
            if self._stop.wait(delay):
                raise Stopping()
            delay = min(delay * 2, BACKOFF_S[1])

    # ------------------------------------------------------------- health

    def _set_health(self, state: HealthState, error: str | None = None) -> None:
        now = self.clock.now_ns()
        self.health = replace(self.health, state=state, since_ns=now,
                              last_error=error if error is not None else self.health.last_error)
        metrics.processor_health(self.name, state.value)

    def _fault(self, call: str, error: str, *, rebuild: bool = False) -> None:
        """Note a fault: logged once per episode (the first), the rest at DEBUG; a rebuild at ERROR."""
        text = f"{call}: {error}"
        if self.health.state is HealthState.RUNNING:
            self._episode_started = time.monotonic()
            self._set_health(HealthState.RECOVERING, text)
            log.warning("%s: broker fault, recovering: %s", self.name, text)
        else:
            self.health = replace(self.health, last_error=text)
            if time.monotonic() >= self._next_report:
                log.warning("%s: still recovering after %.0fs: %s", self.name,
                            time.monotonic() - self._episode_started, text)
            else:
                log.debug("%s: still recovering: %s", self.name, text)
        if time.monotonic() >= self._next_report:
            self._next_report = time.monotonic() + REPORT_EVERY_S
        if rebuild:
            log.error("%s: %s; rebuilding the transactional producer", self.name, text)

    def _committed(self) -> None:
        self.health = replace(self.health, last_commit_ns=self.clock.now_ns())
        self._recovered()

    def _recovered(self) -> None:
        """The end of a fault episode (if one is under way): logged once, health RUNNING again."""
        if self.health.state is HealthState.RUNNING:
            return
        log.warning("%s: recovered after %.1fs (last error: %s)", self.name,
                    time.monotonic() - self._episode_started, self.health.last_error)
        self.health = replace(self.health, state=HealthState.RUNNING, since_ns=self.clock.now_ns(),
                              recoveries=self.health.recoveries + 1)

    # -------------------------------------------------------------- close

    def _close(self) -> None:
        """Abort an open transaction and close both clients, each bounded in time."""
        if self._producer is not None:
            try:
                self._calls.run("abort_transaction", self._producer.abort_transaction, 1.0)
            except (KafkaException, TransactionFault):
                pass  # none open, or the broker is away: it aborts it on its own
            self._close_producer(self._producer)
            self._producer = None
            self._calls.close()
        _bounded(self._consumer.close, 10.0, f"{self.name}: consumer close")

    @staticmethod
    def _close_producer(producer: Producer | None) -> None:
        if producer is None:
            return
        # What it still queues is dropped first: with its messages purged a transactional producer is
        # in an abortable state and registers no more partitions. A producer given up while the broker
        # was away would otherwise add them to its transaction once the broker is back, before the new
        # producer fences it, only for that transaction to be aborted.
        try:
            producer.purge(True, True, False)
        except KafkaException:
            pass
        _bounded(producer.close, 5.0, "producer close")  # a producer hung in a call never returns here


_PHASE_OF_CALL = {"send_offsets_to_transaction": "send_offsets", "commit_transaction": "commit",
                  "begin_transaction": "begin_next"}


class _Phases:
    """The durations of the phases of one transaction, in the order they ended."""

    def __init__(self, timings: list[tuple[str, float]]) -> None:
        self.timings = list(timings)
        self._last = time.perf_counter()

    def done(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings.append((phase, now - self._last))
        self._last = now

    def split(self, phase: str, inside: dict[str, float]) -> None:
        """Replace `phase` by the calls it made on the call thread (`inside`: call -> seconds) and
        "handover": the rest of its time, spent handing the calls over and getting the answer back."""
        total = dict(self.timings).get(phase, 0.0)
        self.timings = [t for t in self.timings if t[0] != phase]
        self.timings += [(_PHASE_OF_CALL.get(call, call), seconds) for call, seconds in inside.items()]
        self.timings.append(("handover", max(0.0, total - sum(inside.values()))))


class TransactionCalls:
    """The thread one transactional producer's calls run on, and their watchdog.

    librdkafka does not always honour a transactional call's own timeout
    (`send_offsets_to_transaction` was seen blocking until the broker came
    back), so the loop never makes the call itself: `run` hands it to this
    thread and waits at most `patience` (the call timeout plus
    `WATCHDOG_GRACE_S`). A call that has not returned by then is given up with
    `Remedy.REBUILD`, and so is the thread (left blocked on the producer given
    up); every later `run` refuses at once. One thread serves all the calls of
    one producer (a thread started per call cost a thread start and its
    scheduling three times per transaction); the processor replaces it with the
    producer (`close` lets it end)."""

    def __init__(self, name: str, patience: float = CALL_TIMEOUT_S + WATCHDOG_GRACE_S) -> None:
        self.patience = patience
        self.hung: str | None = None
        """The call given up on (the thread is still in it), or None."""
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        name_thread("txn-calls")
        while True:
            request = self._requests.get()
            if request is None:
                return
            call, args, outcome, done = request
            try:
                outcome.append((True, call(*args)))
            except BaseException as exc:  # handed back to the caller's thread
                outcome.append((False, exc))
            done.release()

    def run(self, what: str, call: Callable, *args):
        """`call(*args)` on this thread: its result, or its exception raised here; a `TransactionFault`
        (`Remedy.REBUILD`) when it does not return within `patience`, or an earlier call did not."""
        if self.hung is not None:
            raise TransactionFault(what, None, Remedy.REBUILD, f"the producer is still blocked in {self.hung}")
        outcome: list = []
        done = threading.Lock()
        done.acquire()
        self._requests.put((call, args, outcome, done))
        if not done.acquire(timeout=self.patience):
            self.hung = what
            raise TransactionFault(what, None, Remedy.REBUILD, f"no answer within {self.patience:.0f}s")
        ok, value = outcome[0]
        if ok:
            return value
        raise value

    def close(self) -> None:
        """Let the thread end once it is idle (at once, or when the call it is blocked in returns)."""
        self._requests.put(None)


def _bounded(call: Callable[[], object], timeout: float, what: str) -> None:
    """Run `call` in a helper thread and wait at most `timeout` for it (a client closing while
    the broker is away must not hold up a stop). What it raises is logged, never raised: closing a
    producer the broker has fenced raises the fencing error, and the client is gone either way."""

    def call_logged() -> None:
        try:
            call()
        except Exception as exc:  # the thread's end: nobody to hand it to
            log.warning("%s failed: %s", what, exc)

    thread = threading.Thread(target=call_logged, name=what, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s did not finish within %.0fs; left behind", what, timeout)
