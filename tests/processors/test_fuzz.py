"""Fuzz the running pipeline and account for every input: each gets a journal answer or a dead letter.

A seeded mix goes to a running worker, venue gateway and market data feed
(`tests.pipeline.Pipeline`): random bytes on `commands` and `exec.reports`;
hostile but decodable commands (edge decimals, huge, negative and
out-of-precision quantities, 10,000-character and control-character strings,
timestamps 0 and 2^63-1, an ExecutionReport on `commands`, a NewOrder on
`exec.reports`, unknown venues, cancels of unknown orders); hostile reports
(unknown orders, overfills, conflicting duplicate exec ids, a wrong account);
and ordinary market orders in between. Every input is produced with its
partition and offset known. It is answered when the journal holds an event it
caused, found by the deterministic ids of `oms.ids` (a command: an event on the
order `ids.order_id(account, client order id)` names, each command here naming
its own order; a report: the seq-0 record `ids.record_id(order id, report
event id, "anomaly"|"mismatch")`, or a journal event carrying its fresh exec
id), and dead-lettered when `deadletter` holds a letter with its source topic,
partition and offset. The test requires answered + dead-lettered == sent, no
input both, every ordinary order FILLED, and every position equal to the sum
of its fills. No identical duplicate report is sent: the engine rightly
ignores one (it is a redelivery), so it would have no answer by design.
"""

from __future__ import annotations

import io
import random
import time
from dataclasses import dataclass
from decimal import Decimal as D

import fastavro
import pytest

from oms import ids
from oms.events import (
    DeadLetter,
    ExecType,
    ExecutionReport,
    Fill,
    JournalEvent,
    NewOrder,
    OrderStatus,
    OrderView,
    Position,
    Side,
)
from schemas import load_catalogue
from tests.pipeline import Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SEED = 20240806
ORDINARY = 40
RANDOM_BYTES = 30
LONG = "x" * 10_000


@dataclass
class Input:
    kind: str
    topic: str
    order_id: str | None = None
    """The order a command names (answered by any journal event on it)."""
    report: ExecutionReport | None = None
    fresh_exec_id: bool = True
    partition: int = -1
    offset: int = -1


class Fuzzer:
    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.rt = p.rt
        self.raw = p.rt.producer()
        self.codec = p.rt.codec
        self.inputs: list[Input] = []
        self.rng = random.Random(SEED)
        self.n = 0

    def _send(self, item: Input, key: str, value: bytes) -> None:
        def delivered(err, msg) -> None:
            assert err is None, err
            item.partition, item.offset = msg.partition(), msg.offset()

        self.inputs.append(item)
        self.raw.produce(item.topic, key=key.encode()[:200], value=value, on_delivery=delivered)
        self.raw.poll(0)

    def _header(self, schema_name: str) -> bytes:
        sample = {"oms.NewOrder": self._valid_order("hdr"), "oms.ExecutionReport": self._report("hdr", "Ohdr")}
        return self.codec.encode(self.rt.topics.commands, sample[schema_name])[:10]

    def raw_record(self, schema_name: str, record: dict) -> bytes:
        """A record written straight with the schema, past the model's validation."""
        body = io.BytesIO()
        fastavro.schemaless_writer(body, load_catalogue()[schema_name].parsed, record)
        return self._header(schema_name) + body.getvalue()

    def _valid_order(self, cl: str, account: str = "ACC-FZ1", **fields) -> NewOrder:
        base = dict(event_id=f"fz-{cl}"[:64], ts_event=time.time_ns(), ts_init=time.time_ns(), account=account,
                    trader="fuzzer", client_order_id=cl, instrument="AAPL", side="BUY", order_type="MARKET",
                    quantity=D(10), time_in_force="DAY")
        return NewOrder(**{**base, **fields})

    def _report(self, tag: str, order_id: str, account: str = "ACC-FZ1", **fields) -> ExecutionReport:
        base = dict(event_id=f"fz-r-{tag}", ts_event=time.time_ns(), ts_init=time.time_ns(), venue="SIM",
                    account=account, order_id=order_id, request_id=f"{order_id}.2", exec_id=f"fz-x-{tag}",
                    exec_type=ExecType.FILL, order_status=OrderStatus.FILLED, instrument="AAPL", side=Side.BUY,
                    order_qty=D(10), last_qty=D(10), last_px=D(100), cum_qty=D(10), leaves_qty=D(0), avg_px=D(100))
        return ExecutionReport(**{**base, **fields})

    # -------------------------------------------------------- the input kinds

    def ordinary(self) -> None:
        self.n += 1
        cl = f"ord-{self.n}"
        account = self.rng.choice(("ACC-FZ1", "ACC-FZ2"))
        order = self._valid_order(cl, account, instrument=self.rng.choice(("AAPL", "MSFT")),
                                  side=self.rng.choice(("BUY", "SELL")), quantity=D(self.rng.choice((1, 5, 10))))
        self._send(Input("ordinary", self.rt.topics.commands, ids.order_id(account, cl)), account,
                   self.codec.encode(self.rt.topics.commands, order))

    def victim(self, cl: str) -> str:
        """A limit order far below the market: acknowledged, resting, never filled by the venue."""
        order = self._valid_order(cl, "ACC-FZV", order_type="LIMIT", limit_price=D(1), quantity=D(10))
        oid = ids.order_id("ACC-FZV", cl)
        self._send(Input("victim", self.rt.topics.commands, oid), "ACC-FZV",
                   self.codec.encode(self.rt.topics.commands, order))
        return oid

    def random_bytes(self) -> None:
        topic = self.rng.choice((self.rt.topics.commands, self.rt.topics.exec_reports))
        value = self.rng.randbytes(self.rng.randint(1, 300))
        if self.rng.random() < 0.3:
            value = b"\xc3\x01" + value  # single-object magic, then noise
        self._send(Input("random bytes", topic), "ACC-FZ1", value)

    def hostile_command(self, name: str, **fields) -> None:
        """A NewOrder record with `fields` written past validation, on `commands`."""
        self.n += 1
        cl = fields.pop("client_order_id", f"hc-{self.n}")
        account = fields.pop("account", "ACC-FZH")
        record = self._valid_order("hc", "ACC-FZH", order_type="LIMIT", limit_price=D(100)).to_record()
        record.update(account=account, client_order_id=cl, event_id=f"fz-hc-{self.n}")
        record.update(fields)
        target = ids.order_id(account, cl)
        self._send(Input(name, self.rt.topics.commands, target), account, self.raw_record("oms.NewOrder", record))

    def hostile_report(self, name: str, report: ExecutionReport, fresh_exec_id: bool = True,
                       topic: str | None = None) -> None:
        self._send(Input(name, topic or self.rt.topics.exec_reports, report.order_id, report, fresh_exec_id),
                   report.account, self.codec.encode(self.rt.topics.exec_reports, report))

    def flush(self) -> None:
        assert self.raw.flush(30) == 0


def hostile_commands(f: Fuzzer) -> list:
    big = D(10) ** 19
    t = f.rt.topics
    return [
        lambda: f.hostile_command("tiny decimals", quantity=D("0.00000001"), limit_price=D("0.00000001")),
        lambda: f.hostile_command("huge price", limit_price=D("99999999999999999999.99999999")),
        lambda: f.hostile_command("huge quantity", quantity=big),
        lambda: f.hostile_command("beyond precision", quantity=D(10) ** 30),
        lambda: f.hostile_command("negative quantity", quantity=D(-5)),
        lambda: f.hostile_command("zero quantity", quantity=D(0)),
        lambda: f.hostile_command("negative price", limit_price=D("-1.5")),
        lambda: f.hostile_command("10k client order id", client_order_id=LONG),
        lambda: f.hostile_command("10k account", account=LONG),
        lambda: f.hostile_command("10k instrument", instrument=LONG),
        lambda: f.hostile_command("10k event id", event_id=LONG),
        lambda: f.hostile_command("control-character trader", trader="tr\x00\x07\x1b[31m"),
        lambda: f.hostile_command("control-character instrument", instrument="AA\nPL"),
        lambda: f.hostile_command("control-character client order id", client_order_id="c\x00l"),
        lambda: f.hostile_command("timestamps 0", ts_event=0, ts_init=0),
        lambda: f.hostile_command("timestamps 2^63-1", ts_event=2**63 - 1, ts_init=2**63 - 1),
        lambda: f.hostile_command("unknown venue", venue="NOWHERE"),
        lambda: f.hostile_command("unknown venue, market", venue="SIM-Z", order_type="MARKET", limit_price=None),
        lambda: f.hostile_report("ExecutionReport on commands",
                                 f._report("oncmd", ids.order_id("ACC-FZH", "nope")),
                                 topic=t.commands),
        lambda: f._send(Input("NewOrder on exec.reports", t.exec_reports,
                              ids.order_id("ACC-FZH", f"onrep-{len(f.inputs)}")),
                        "ACC-FZH", f.codec.encode(t.commands, f._valid_order(f"onrep-{len(f.inputs)}", "ACC-FZH"))),
    ]


def test_every_hostile_input_is_answered_or_dead_lettered(bootstrap_servers, unique_name, tmp_path):
    p = Pipeline.start(bootstrap_servers, f"{unique_name}.", tmp_path)
    try:
        f = Fuzzer(p)
        victims = [f.victim(f"victim-{n}") for n in range(4)]
        f.flush()
        p.wait(lambda: {o.order_id: o.status for o in p.views["orders"].latest.values()
                        if o.order_id in victims and o.status is OrderStatus.NEW}.keys() == set(victims),
               timeout=30, what="the victim orders to rest at the venue")
        acks = {r.order_id: r for r in p.views["exec_reports"].all if r.order_id in victims
                and r.exec_type is ExecType.NEW}

        hostile = hostile_commands(f)
        reports = []
        for n, oid in enumerate(victims):
            reports.append(("overfill", f._report(f"over-{n}", oid, "ACC-FZV", order_qty=D(10), last_qty=D(1000),
                                                  cum_qty=D(1000), last_px=D(1), limit_price=D(1))))
            ack = acks[oid]
            reports.append(("conflicting duplicate exec id", ack.model_copy(update=dict(
                event_id=f"fz-r-dup-{n}", exec_type=ExecType.PARTIAL_FILL, order_status=OrderStatus.PARTIALLY_FILLED,
                last_qty=D(1), last_px=D(1), cum_qty=D(1), leaves_qty=D(9), avg_px=D(1)))))
            reports.append(("wrong account", f._report(f"acct-{n}", oid, "ACC-FZ2")))
        for n in range(6):
            reports.append(("unknown order", f._report(f"unk-{n}", f"Ounknown{SEED}{n}")))
        reports.append(("unknown foreign order id", f._report("foreign", "F" + "9" * 63, request_id="req-foreign")))

        plan = ([f.ordinary] * ORDINARY + [f.random_bytes] * RANDOM_BYTES + hostile
                + [lambda r=r: f.hostile_report(r[0], r[1], fresh_exec_id=r[0] != "conflicting duplicate exec id")
                   for r in reports])
        f.rng.shuffle(plan)
        for send in plan:
            send()
        f.flush()
        sent = len(f.inputs)
        ordinary = {i.order_id for i in f.inputs if i.kind == "ordinary"}

        def accounting():
            journal = p.views["journal"].all or []
            by_order = {e.order_id for e in journal if isinstance(e, JournalEvent)}
            event_ids = {e.event_id for e in journal}
            exec_ids = {(e.order_id, e.exec_id) for e in journal if getattr(e, "exec_id", None)}
            letters = {(d.source_topic, d.partition, d.offset) for d in (p.views["deadletter"].all or [])
                       if isinstance(d, DeadLetter)}
            answered, dead, both, neither = [], [], [], []
            for i in f.inputs:
                if i.report is not None and i.topic == p.rt.topics.exec_reports:
                    r = i.report
                    got = any(ids.record_id(r.order_id, r.event_id, kind) in event_ids
                              for kind in ("anomaly", "mismatch")) or (
                        i.fresh_exec_id and (r.order_id, r.exec_id) in exec_ids)
                else:
                    got = i.order_id in by_order
                lettered = (i.topic, i.partition, i.offset) in letters
                (both if got and lettered else answered if got else dead if lettered else neither).append(i)
            return answered, dead, both, neither

        def settled() -> bool:
            answered, dead, both, neither = accounting()
            views = p.views["orders"].latest
            filled = all(oid in views and views[oid].status is OrderStatus.FILLED for oid in ordinary)
            return not neither and filled

        try:
            p.wait(settled, timeout=45, what="every input answered and every ordinary order filled")
        finally:
            answered, dead, both, neither = accounting()
            print(f"\nfuzz accounting: sent {sent}, answered {len(answered)}, dead-lettered {len(dead)}"
                  f" (both {len(both)}, neither {len(neither)}: {sorted({i.kind for i in neither})})")
        assert not both, [(i.kind, i.offset) for i in both]
        assert len(answered) + len(dead) == sent
        assert {i.kind for i in dead} >= {"random bytes", "ExecutionReport on commands", "NewOrder on exec.reports"}
        for wrong in ("ExecutionReport on commands", "NewOrder on exec.reports"):
            assert all(i in dead for i in f.inputs if i.kind == wrong), wrong
        journal = p.views["journal"].all
        anomalies = {e.reason_code for e in journal if type(e).__name__ == "OrderAnomaly"}
        # a report naming another account is keyed (and partitioned) by that account: the engine
        # instance owning it does not know the order, so it is an UNKNOWN_ORDER anomaly there
        assert {"UNKNOWN_ORDER", "CONFLICTING_EXEC_ID"} <= anomalies
        views = p.views["orders"].latest
        assert all(views[oid].status is OrderStatus.NEW and views[oid].cum_qty == 0 for oid in victims)

        def positions_match() -> bool:
            fills: dict[str, D] = {}
            for fill in p.views["fills"].all or []:
                if isinstance(fill, Fill):
                    key = f"{fill.account}|{fill.instrument}"
                    fills[key] = fills.get(key, D(0)) + (fill.quantity if fill.side is Side.BUY else -fill.quantity)
            positions = {k: v.quantity for k, v in p.views["positions"].latest.items() if isinstance(v, Position)}
            return bool(fills) and all(positions.get(k, D(0)) == q for k, q in fills.items())

        p.wait(positions_match, timeout=20, what="every position to equal the sum of its fills")
        assert all(isinstance(v, OrderView) for v in views.values())
    finally:
        p.stop()
