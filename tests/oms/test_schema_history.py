"""Schema evolution against every version ever written: `tests/oms/schema_history/<full name>.<n>.avsc`.

Each file there is a former version of a record schema, kept byte for byte as
it was shipped (replay must read what it wrote). For every one: a record that
version wrote decodes under the current schema with the fields added since at
their defaults (backward), a record the current schema writes reads under that
version without the added fields (forward, for consumers not yet upgraded), and
every field added since has a default (so the check holds transitively).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest

from oms.events import BY_SCHEMA_NAME
from schemas import SchemaEntry, load_catalogue
from streams.codec import SingleObjectCodec
from tests.builders import sample_events

HISTORY = Path(__file__).parent / "schema_history"
VERSIONS = sorted(HISTORY.glob("*.avsc"))


def former(path: Path) -> SchemaEntry:
    return SchemaEntry.from_schema(json.loads(path.read_text()))


def added_since(old: SchemaEntry) -> list[str]:
    current = load_catalogue()[old.name]
    before = {f["name"] for f in old.schema["fields"]}
    return [f["name"] for f in current.schema["fields"] if f["name"] not in before]


def samples(name: str) -> list:
    return [e for e in sample_events() if type(e) is BY_SCHEMA_NAME[name]]


def test_the_history_holds_the_first_quote():
    names = [path.name for path in VERSIONS]
    assert "oms.Quote.1.avsc" in names
    assert all(path.stem.rsplit(".", 1)[0] in load_catalogue() for path in VERSIONS), names


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_a_former_version_is_not_the_current_one_and_removed_nothing(path):
    old = former(path)
    current = load_catalogue()[old.name]
    assert old.fingerprint != current.fingerprint
    assert {f["name"] for f in old.schema["fields"]} <= {f["name"] for f in current.schema["fields"]}


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_every_field_added_since_has_a_default(path):
    old = former(path)
    fields = {f["name"]: f for f in load_catalogue()[old.name].schema["fields"]}
    added = added_since(old)
    assert added, f"{path.name}: nothing was added since"
    assert [name for name in added if "default" not in fields[name]] == []


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_what_a_former_version_wrote_reads_under_the_current_schema_with_defaults(path):
    old = former(path)
    added = added_since(old)
    model = BY_SCHEMA_NAME[old.name]
    reader = SingleObjectCodec()
    reader.learn(old.schema_json)
    for sample in samples(old.name):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, old.parsed, {k: v for k, v in sample.to_record().items() if k not in added})
        decoded = reader.decode("oms.any", b"\xc3\x01" + old.fingerprint + body.getvalue())
        assert decoded == sample.model_copy(update={f: model.model_fields[f].default for f in added})


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_what_the_current_schema_writes_reads_under_a_former_version(path):
    old = former(path)
    added = added_since(old)
    writer = SingleObjectCodec()
    for sample in samples(old.name):
        data = writer.encode("oms.any", sample)
        current = load_catalogue()[old.name]
        assert data[2:10] == current.fingerprint
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), current.parsed, old.parsed)
        expected = {k: v for k, v in writer.decode("oms.any", data).to_record().items() if k not in added}
        assert record == expected


def test_a_depth_quote_read_by_the_first_quote_schema_is_its_top_of_book():
    old = former(HISTORY / "oms.Quote.1.avsc")
    [depth] = [q for q in samples("oms.Quote") if q.bid_levels]
    data = SingleObjectCodec().encode("oms.marketdata", depth)
    record = fastavro.schemaless_reader(io.BytesIO(data[10:]), load_catalogue()["oms.Quote"].parsed, old.parsed)
    assert (record["bid_price"], record["bid_size"], record["ask_price"], record["ask_size"]) == (
        depth.bid_price, depth.bid_size, depth.ask_price, depth.ask_size)
    assert "bid_levels" not in record and "ask_levels" not in record
