"""What the FIX adapter remembers across restarts: one small SQLite file in its data directory.

`FixOrderStore` owns these tables: `refs` (every ClOrdID and OrdStatusReqID the
adapter sent -> the OMS order it belongs to, so that reports arriving after a
restart still name the OMS order), `inbox` (reports received and not yet
handed over: written before the FIX engine counts the message as received, so
a crash loses none), `delivered` (exec ids already handed to the gateway: a
resent report, PossDupFlag or PossResend, is not handed over twice), `orders` (the last report of each order, answering `open_orders()`)
and `fills` (every fill, bust and correction, answering `fills(since_ns)`),
plus `unmapped` (incoming messages the mapping refused, kept with the reason
rather than lost). All methods are safe to call from the session thread and
the caller's thread at once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

from oms.events import ExecType, ExecutionReport, OrderStatus, OrderType, Side, TimeInForce, VenueAction

from connectors.fix.mapping import OrderRef

__all__ = ["FixOrderStore", "WORKING"]

WORKING = frozenset({
    OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL,
    OrderStatus.PENDING_REPLACE, OrderStatus.SUSPENDED,
})
"""Statuses of an order still working at the venue."""

_FILL_TYPES = frozenset({ExecType.PARTIAL_FILL, ExecType.FILL, ExecType.TRADE_BUST, ExecType.TRADE_CORRECT})
_NO_STATE = frozenset({ExecType.CANCEL_REJECTED})
"""Reports that say nothing about the order's state (a cancel reject leaves the order as it was)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (cl_ord_id TEXT PRIMARY KEY, ref TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS delivered (exec_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS inbox (exec_id TEXT PRIMARY KEY, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, working INTEGER NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (exec_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS unmapped (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, raw TEXT NOT NULL,
                                     error TEXT NOT NULL);
"""


class FixOrderStore:
    """The adapter's persistent memory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._refs: dict[str, OrderRef] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ClOrdID map -----------------------------------------------------------

    def put_ref(self, ref: OrderRef) -> bool:
        """Remember what was sent under `ref.cl_ord_id`; False if that id was sent before."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO refs VALUES (?, ?)", (ref.cl_ord_id, _ref_json(ref)))
            if cursor.rowcount:
                self._refs[ref.cl_ord_id] = ref
            return bool(cursor.rowcount)

    def forget_ref(self, cl_ord_id: str) -> None:
        """Forget a ClOrdID whose message could not be sent (so that a retry sends it)."""
        with self._lock:
            self._db.execute("DELETE FROM refs WHERE cl_ord_id = ?", (cl_ord_id,))
            self._refs.pop(cl_ord_id, None)

    def ref(self, cl_ord_id: str) -> OrderRef | None:
        with self._lock:
            ref = self._refs.get(cl_ord_id)
            if ref is None:
                row = self._db.execute("SELECT ref FROM refs WHERE cl_ord_id = ?", (cl_ord_id,)).fetchone()
                if row is not None:
                    ref = self._refs[cl_ord_id] = _ref_of(row[0])
            return ref

    # reports ---------------------------------------------------------------

    def delivered(self, exec_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM delivered WHERE exec_id = ?", (exec_id,)).fetchone() is not None

    def receive(self, report: ExecutionReport) -> bool:
        """Keep a report that arrived until it is handed over; False if its exec id was handed over
        or is waiting already (a resend). Called before the FIX engine counts the message as received,
        so a crash in between makes the venue send it again."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM delivered WHERE exec_id = ?", (report.exec_id,)).fetchone():
                return False
            cursor = self._db.execute("INSERT OR IGNORE INTO inbox VALUES (?, ?)",
                                      (report.exec_id, report.model_dump_json()))
            return bool(cursor.rowcount)

    def waiting(self) -> list[ExecutionReport]:
        """Reports received and not yet handed over (after a crash: to hand over first), in arrival order."""
        with self._lock:
            rows = self._db.execute("SELECT report FROM inbox ORDER BY rowid").fetchall()
        return [ExecutionReport.model_validate_json(row[0]) for row in rows]

    def record(self, reports: list[ExecutionReport]) -> None:
        """Remember `reports` as handed over: their exec ids, order states and fills, in one transaction."""
        if not reports:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for r in reports:
                    self._db.execute("INSERT OR IGNORE INTO delivered VALUES (?)", (r.exec_id,))
                    self._db.execute("DELETE FROM inbox WHERE exec_id = ?", (r.exec_id,))
                    if r.exec_type in _FILL_TYPES:
                        self._db.execute("INSERT OR IGNORE INTO fills VALUES (?, ?, ?)",
                                         (r.exec_id, r.ts_event, r.model_dump_json()))
                    if r.exec_type not in _NO_STATE and not _unknown_status(r):
                        self._db.execute("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)",
                                         (r.order_id, int(r.order_status in WORKING), r.model_dump_json()))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def working(self) -> list[ExecutionReport]:
        """The last report of every order still working, in order of first report."""
        with self._lock:
            rows = self._db.execute("SELECT report FROM orders WHERE working = 1 ORDER BY rowid").fetchall()
        return [ExecutionReport.model_validate_json(row[0]) for row in rows]

    def fills(self, since_ns: int = 0) -> list[ExecutionReport]:
        with self._lock:
            rows = self._db.execute("SELECT report FROM fills WHERE ts >= ? ORDER BY rowid", (since_ns,)).fetchall()
        return [ExecutionReport.model_validate_json(row[0]) for row in rows]

    def keep_unmapped(self, ts: int, raw: str, error: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO unmapped (ts, raw, error) VALUES (?, ?, ?)", (ts, raw, error))

    def unmapped(self) -> list[tuple[int, str, str]]:
        """(ts, raw message, why) of every incoming message the mapping refused."""
        with self._lock:
            return self._db.execute("SELECT ts, raw, error FROM unmapped ORDER BY id").fetchall()


def _unknown_status(report: ExecutionReport) -> bool:
    """A status answer for an order the venue does not know changes no recorded state."""
    return report.exec_type is ExecType.ORDER_STATUS and report.order_status is OrderStatus.REJECTED


def _ref_json(ref: OrderRef) -> str:
    return json.dumps({
        "cl_ord_id": ref.cl_ord_id, "action": ref.action.value, "account": ref.account, "order_id": ref.order_id,
        "request_id": ref.request_id, "instrument": ref.instrument, "side": ref.side.value,
        "order_type": ref.order_type.value, "time_in_force": ref.time_in_force.value,
        "quantity": str(ref.quantity), "limit_price": None if ref.limit_price is None else str(ref.limit_price),
    })


def _ref_of(text: str) -> OrderRef:
    d = json.loads(text)
    return OrderRef(
        cl_ord_id=d["cl_ord_id"], action=VenueAction(d["action"]), account=d["account"], order_id=d["order_id"],
        request_id=d["request_id"], instrument=d["instrument"], side=Side(d["side"]),
        order_type=OrderType(d["order_type"]), time_in_force=TimeInForce(d["time_in_force"]),
        quantity=Decimal(d["quantity"]), limit_price=None if d["limit_price"] is None else Decimal(d["limit_price"]),
    )
