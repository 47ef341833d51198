"""State serialization and the store interface shared by processors and replay.

Order, position and account states are frozen dataclasses; they are stored
as JSON (exact decimals as strings) so that a RocksDB store, a faust table or
an in-memory dict can hold them. A `ControlsSnapshot` is the risk controls the
engine decided with and the `risk.controls` offsets they are the fold of. A
position in the position manager's table is stored as its history
(`HeldPosition`, `load_held`, `block_write`: `HISTORY_BLOCK` changes a block).
`Store` is the small key/value interface with a RocksDB implementation
(rocksdict) and an in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Mapping, Protocol

from pydantic import TypeAdapter

from oms import keys
from oms.domain.orders import Order
from oms.domain.positions import PositionChange, PositionState, replay_changes
from oms.domain.risk import AccountRisk, Controls


@dataclass(frozen=True)
class ControlsSnapshot:
    """Risk controls as a fold of a prefix of `risk.controls` (the audit trail left out)."""

    offsets: Mapping[int, int]
    """`risk.controls` partition -> next offset: the controls are the fold of every record below."""
    controls: Controls = field(default_factory=Controls)
    applied: int = 0
    """How many controls the fold applied (the length of its audit trail)."""

    @classmethod
    def of(cls, controls: Controls, offsets: Mapping[int, int]) -> "ControlsSnapshot":
        return cls(dict(offsets), replace(controls, audit=()), len(controls.audit))


_ORDER = TypeAdapter(Order)
_CHANGES = TypeAdapter(list[PositionChange])
_POSITION = TypeAdapter(PositionState)
_ACCOUNT = TypeAdapter(AccountRisk)
_CONTROLS = TypeAdapter(ControlsSnapshot)


def dump_controls(snapshot: ControlsSnapshot) -> bytes:
    return _CONTROLS.dump_json(snapshot)


def load_controls(data: bytes | None) -> ControlsSnapshot | None:
    return None if data is None else _CONTROLS.validate_json(data)


def dump_account(risk: AccountRisk) -> bytes:
    return _ACCOUNT.dump_json(risk)


def load_account(data: bytes | None) -> AccountRisk | None:
    return None if data is None else _ACCOUNT.validate_json(data)


def dump_order(order: Order) -> bytes:
    return _ORDER.dump_json(order)


def load_order(data: bytes | None) -> Order | None:
    return None if data is None else _ORDER.validate_json(data)


def dump_position(state: PositionState) -> bytes:
    return _POSITION.dump_json(state)


def load_position(data: bytes | None) -> PositionState | None:
    return None if data is None else _POSITION.validate_json(data)


def dump_changes(changes: list[PositionChange]) -> bytes:
    """A block of a position's history (`oms.domain.positions.replay_changes` folds it)."""
    return _CHANGES.dump_json(changes)


def load_changes(data: bytes | None) -> list[PositionChange] | None:
    return None if data is None else _CHANGES.validate_json(data)


HISTORY_BLOCK = 64
"""Changes per block of a position's stored history: a fill rewrites one block of at most this many."""


@dataclass(frozen=True)
class HeldPosition:
    """A position as the position manager holds it: the state, and the stored block its next change
    goes to (its number and the changes already in it)."""

    state: PositionState
    block: int
    changes: tuple[PositionChange, ...]

    def then(self, state: PositionState, change: PositionChange) -> "HeldPosition":
        """After `change` took the state to `state`."""
        if len(self.changes) == HISTORY_BLOCK:
            return HeldPosition(state, self.block + 1, (change,))
        return HeldPosition(state, self.block, self.changes + (change,))


def load_held(table: Mapping[bytes, bytes], account: str, instrument: str) -> HeldPosition | None:
    """A position as `table` stores it: the whole state under `keys.position` (as stored before
    histories; usually none) and its history blocks after it, folded in order."""
    state = load_position(table.get(keys.position(account, instrument).encode()))
    block, changes = 0, ()
    while (stored := load_changes(table.get(keys.position_history(account, instrument, block).encode()))) is not None:
        state, changes = replay_changes(state, stored), tuple(stored)
        block += 1
    if state is None:
        return None
    return HeldPosition(state, max(block - 1, 0), changes)


def held_after(before: HeldPosition | None, state: PositionState, change: PositionChange) -> HeldPosition:
    return HeldPosition(state, 0, (change,)) if before is None else before.then(state, change)


def block_write(now: HeldPosition) -> tuple[bytes, bytes]:
    """The table write that stores `now`'s last change: its block, whole (key, value)."""
    key = keys.position_history(now.state.account, now.state.instrument, now.block)
    return key.encode(), dump_changes(list(now.changes))


class Store(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes) -> None: ...
    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]: ...
    def write_batch(self, items: list[tuple[bytes, bytes]]) -> None: ...
    def delete_prefix(self, prefix: bytes) -> None: ...
    def close(self) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._data[key] = value

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self._data):
            if key.startswith(prefix):
                yield key, self._data[key]

    def write_batch(self, items: list[tuple[bytes, bytes]]) -> None:
        self._data.update(items)

    def delete_prefix(self, prefix: bytes) -> None:
        for key in [k for k in self._data if k.startswith(prefix)]:
            del self._data[key]

    def close(self) -> None:
        pass


class RocksStore:
    """A RocksDB store (rocksdict) in raw-bytes mode."""

    def __init__(self, path: Path) -> None:
        from rocksdict import Options, Rdict

        path.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), options=Options(raw_mode=True))

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self._db[key] = value

    def items(self, prefix: bytes = b"") -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db.items(from_key=prefix):
            if not key.startswith(prefix):
                break
            yield key, value

    def write_batch(self, items: list[tuple[bytes, bytes]]) -> None:
        """Write every pair atomically (one RocksDB write batch)."""
        from rocksdict import WriteBatch

        if not items:
            return
        batch = WriteBatch(raw_mode=True)
        for key, value in items:
            batch.put(key, value)
        self._db.write(batch)

    def delete_prefix(self, prefix: bytes) -> None:
        from rocksdict import WriteBatch

        batch = WriteBatch(raw_mode=True)
        for key, _ in list(self.items(prefix)):
            batch.delete(key)
        self._db.write(batch)

    def close(self) -> None:
        self._db.close()
