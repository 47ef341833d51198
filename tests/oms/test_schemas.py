"""Tests of `schemas`: the .avsc files load, and agree with the models in `oms.events`.

For every event type the pydantic model and the Avro record schema have the
same fields in the same order, the same type per field, the same optionality,
and the same enum symbols; every record starts with the envelope. The
catalogue gives standalone schemas and their fingerprints, and a record written
with an older schema version reads under the current one.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Union, get_args, get_origin

import fastavro
import pytest
from fastavro.schema import fingerprint
from pydantic import BaseModel

from oms.events import BY_SCHEMA_NAME, ENUMS, EVENT_TYPES, PRECISION, SCALE, Event
from schemas import SCHEMA_DIR, SchemaEntry, load_catalogue, load_file
from streams.codec import DecodeError, SingleObjectCodec
from tests.builders import new_order, schema_version

AVSC_FILES = sorted(SCHEMA_DIR.glob("*.avsc"))
DECIMAL = f"decimal({PRECISION},{SCALE})"
PYTHON_TO_AVRO = {str: "string", int: "long", bool: "boolean", bytes: "bytes", Decimal: DECIMAL}


def raw(full_name: str) -> dict:
    """The schema file of a named type, as written (references by name)."""
    return json.loads((SCHEMA_DIR / f"{full_name}.avsc").read_text())


def model_type(cls: type[BaseModel], field: str) -> tuple[str, bool]:
    """(Avro type the model field should have, whether it is Optional)."""
    annotation = cls.model_fields[field].annotation
    optional = get_origin(annotation) in (Union, UnionType) and NoneType in get_args(annotation)
    if optional:
        (annotation,) = [a for a in get_args(annotation) if a is not NoneType]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return f"oms.{annotation.__name__}", optional
    if get_origin(annotation) is tuple:  # tuple[Model, ...]: an array of a nested record
        item, more = get_args(annotation)
        assert more is Ellipsis and issubclass(item, BaseModel), f"{cls.__name__}.{field}: tuple[Model, ...] only"
        return f"array<oms.{item.__name__}>", optional
    return PYTHON_TO_AVRO[annotation], optional


def avro_type(field: dict) -> tuple[str, bool]:
    """(Avro type of a field in a schema file, whether it is a ["null", T] union with default null)."""
    t = field["type"]
    optional = isinstance(t, list)
    if optional:
        assert t[0] == "null" and len(t) == 2, f"{field['name']}: only [\"null\", T] unions are used"
        assert "default" in field and field["default"] is None, f"{field['name']}: optional needs default null"
        t = t[1]
    if isinstance(t, dict):
        if t["type"] == "array":
            items = t["items"]
            return f"array<{items if isinstance(items, str) else items['namespace'] + '.' + items['name']}>", optional
        if t.get("logicalType") == "decimal":
            assert t["type"] == "bytes", f"{field['name']}: decimals are bytes"
            return f"decimal({t['precision']},{t['scale']})", optional
        return t["type"], optional
    return t, optional


# ------------------------------------------------------------------- files


@pytest.mark.parametrize("path", AVSC_FILES, ids=lambda p: p.name)
def test_every_file_loads_and_is_named_after_its_type(path):
    schema = raw(path.stem)
    assert f"{schema['namespace']}.{schema['name']}" == path.stem
    load_file(path)


def test_files_are_exactly_the_events_and_enums():
    expected = set(BY_SCHEMA_NAME) | {f"oms.{enum.__name__}" for enum in ENUMS}
    assert {path.stem for path in AVSC_FILES} == expected


def test_catalogue_has_every_event_type_and_nothing_else():
    assert set(load_catalogue()) == set(BY_SCHEMA_NAME)


@pytest.mark.parametrize("entry", load_catalogue().values(), ids=lambda e: e.name)
def test_catalogue_entries_are_standalone_with_fingerprints(entry: SchemaEntry):
    assert not any(key.startswith("__") for key in entry.schema)
    again = SchemaEntry.from_schema(entry.schema_json)  # parses with no other schema known
    assert again.schema == entry.schema
    assert entry.fingerprint == again.fingerprint == bytes.fromhex(fingerprint(entry.canonical, "CRC-64-AVRO"))
    assert len(entry.fingerprint) == 8


def test_fingerprints_are_distinct():
    assert len(load_catalogue().by_fingerprint) == len(load_catalogue())


# ------------------------------------------------------------ model vs file


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_record_starts_with_the_envelope(cls):
    assert [f["name"] for f in raw(cls.schema_name)["fields"][:3]] == ["event_id", "ts_event", "ts_init"]


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_model_and_schema_have_the_same_fields_in_order(cls):
    assert [f["name"] for f in raw(cls.schema_name)["fields"]] == list(cls.model_fields)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_model_and_schema_agree_on_types_and_optionality(cls):
    for field in raw(cls.schema_name)["fields"]:
        name = field["name"]
        expected_type, expected_optional = model_type(cls, name)
        assert avro_type(field) == (expected_type, expected_optional), f"{cls.__name__}.{name}"
        if expected_optional:
            assert cls.model_fields[name].default is None, f"{cls.__name__}.{name}: Optional defaults to None"


def _nested_records() -> list[tuple[type[BaseModel], dict]]:
    """(item model, its record schema as first defined in the file) for every array-of-record field."""
    found = []
    for cls in EVENT_TYPES:
        for field in raw(cls.schema_name)["fields"]:
            if isinstance(field["type"], dict) and field["type"]["type"] == "array":
                items = field["type"]["items"]
                if isinstance(items, dict):
                    (item, _) = get_args(cls.model_fields[field["name"]].annotation)
                    found.append((item, items))
    return found


@pytest.mark.parametrize(("model", "record"), _nested_records(), ids=lambda x: getattr(x, "__name__", ""))
def test_nested_records_agree_with_their_models(model, record):
    assert record["type"] == "record" and record["name"] == model.__name__
    assert [f["name"] for f in record["fields"]] == list(model.model_fields)
    for field in record["fields"]:
        assert avro_type(field) == (DECIMAL, False), f"{model.__name__}.{field['name']}: levels are decimals"
        assert model_type(model, field["name"]) == (DECIMAL, False)


def test_quote_has_depth_as_nested_records():
    assert [model.__name__ for model, _ in _nested_records()] == ["BookLevel"]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_enum_symbols_equal_python_values(enum):
    schema = raw(f"oms.{enum.__name__}")
    assert schema["type"] == "enum"
    assert schema["symbols"] == [member.value for member in enum]


# --------------------------------------------------------------- evolution


def test_older_writer_reads_under_current_schema_with_defaults():
    older = schema_version("oms.NewOrder", drop=("venue",))
    writer = SingleObjectCodec(load_catalogue().replacing(older))
    data = writer.encode("oms.commands", new_order(venue="XNAS"))
    assert data[2:10] == older.fingerprint != load_catalogue()["oms.NewOrder"].fingerprint

    reader = SingleObjectCodec()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        reader.decode("oms.commands", data)
    reader.learn(older.schema_json)
    assert reader.decode("oms.commands", data) == new_order(venue=None)


def test_newer_writer_reads_under_current_schema_without_the_new_field():
    newer = schema_version("oms.NewOrder", add=({"name": "desk", "type": ["null", "string"], "default": None},))
    record = {**new_order().to_record(), "desk": "equities"}
    reader = SingleObjectCodec()
    reader.learn(newer.schema_json)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, newer.parsed, record)
    assert reader.decode("oms.commands", b"\xc3\x01" + newer.fingerprint + body.getvalue()) == new_order()


# Fields added by the issue "Order state faithful to FIX in the hard cases": data written before
# them must still read, with the defaults. (schema, fields added, sample event with them at default)
ADDED_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("oms.OrderFilled", ("late",)),
    ("oms.Fill", ("late",)),
    ("oms.OrderRejected", ("reject_reason",)),
    ("oms.OrderCancelRejected", ("cancel_reject_reason", "request_id")),
    ("oms.OrderAccepted", ("external",)),
    ("oms.ExecutionReport", ("ord_rej_reason", "cxl_rej_reason", "restatement_reason", "day_order_qty", "day_cum_qty")),
]


def test_a_reader_meeting_an_exec_type_it_does_not_know_reads_unknown():
    newer = json.loads(json.dumps(load_catalogue()["oms.ExecutionReport"].schema))
    exec_type = next(f for f in newer["fields"] if f["name"] == "exec_type")
    exec_type["type"]["symbols"].append("ORDER_STATUS_FROM_THE_FUTURE")
    writer = SchemaEntry.from_schema(newer)
    from tests.builders import execution_report

    record = {**execution_report().to_record(), "exec_type": "ORDER_STATUS_FROM_THE_FUTURE"}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, writer.parsed, record)
    reader = SingleObjectCodec()
    reader.learn(writer.schema_json)
    decoded = reader.decode("oms.exec.reports", b"\xc3\x01" + writer.fingerprint + body.getvalue())
    assert decoded.exec_type.value == "UNKNOWN"


@pytest.mark.parametrize(("name", "added"), ADDED_FIELDS, ids=[n for n, _ in ADDED_FIELDS])
def test_data_written_before_the_fix_hard_case_fields_still_reads(name: str, added: tuple[str, ...]):
    from tests.builders import sample_events

    older = schema_version(name, drop=added)
    cls = BY_SCHEMA_NAME[name]
    sample = next(e for e in sample_events() if type(e) is cls)
    record = {k: v for k, v in sample.to_record().items() if k not in added}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, older.parsed, record)
    reader = SingleObjectCodec()
    reader.learn(older.schema_json)
    decoded = reader.decode("oms.any", b"\xc3\x01" + older.fingerprint + body.getvalue())
    defaults = {field: cls.model_fields[field].default for field in added}
    assert decoded == sample.model_copy(update=defaults)
