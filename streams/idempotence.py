"""The one idempotence mechanism: the last applied input offset, kept beside the state it guards.

Both stream runtimes (the transactional processor and the faust position
manager) keep, per input partition, the offset of the last input they applied
under `oms.keys.applied_offset(topic)`, written in the same store write as the
state change the input caused. An input at or below that offset was applied
already (a redelivery after a crash or rebalance) and is skipped. The state
handed in is one partition's: `get(key) -> bytes | None` and `put(key, bytes)`
(`PartitionState`, or `partition_scope` over a faust table).
"""

from __future__ import annotations

from typing import MutableMapping, Protocol

from oms import keys
from streams.records import Record

__all__ = ["PartitionScoped", "already_applied", "last_applied", "mark_applied", "partition_key", "partition_scope"]

class PartitionScoped(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, value: bytes) -> None: ...

def partition_key(partition: int, key: str) -> bytes:
    """The store key of `key` in the slice of `partition`: one layout for both runtimes."""
    return f"{partition}/{key}".encode()

def last_applied(state: PartitionScoped, topic: str) -> int | None:
    """The offset of the last input from `topic` applied to this partition's state, if any."""
    last = state.get(keys.applied_offset(topic))
    return None if last is None else int(last)

def already_applied(state: PartitionScoped, record: Record) -> bool:
    last = last_applied(state, record.topic)
    return last is not None and last >= record.offset

def mark_applied(state: PartitionScoped, record: Record) -> None:
    state.put(keys.applied_offset(record.topic), str(record.offset).encode())

class _Scope:
    def __init__(self, table: MutableMapping[bytes, bytes], partition: int) -> None:
        self._table = table
        self._partition = partition

    def get(self, key: str) -> bytes | None:
        return self._table.get(partition_key(self._partition, key))

    def put(self, key: str, value: bytes) -> None:
        self._table[partition_key(self._partition, key)] = value

def partition_scope(table: MutableMapping[bytes, bytes], partition: int) -> PartitionScoped:
    """One partition's slice of a bytes table (a faust table, a dict)."""
    return _Scope(table, partition)
