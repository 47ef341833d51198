"""Tests of `streams.codec` and `streams.schema_topic`.

Every sample event round-trips in both wire formats: Avro single-object
encoding (header checked against the spec's CRC-64-AVRO) and the Confluent
format against confluent-kafka's mock registry, with TopicRecordNameStrategy
subjects. Bytes that are not a valid event raise `DecodeError` saying why. With
the real broker: a codec resolves a fingerprint it learned only from the
compacted schemas topic.
"""

from __future__ import annotations

import io
from decimal import Decimal

import fastavro
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from oms.events import EVENT_TYPES, Event
from schemas import load_catalogue
from streams.codec import (
    ConfluentCodec,
    DecodeError,
    SingleObjectCodec,
    decode_key,
    encode_key,
    make_codec,
)
from streams.schema_topic import learn_schemas, publish_schemas
from tests.builders import execution_report, new_order, sample_events, schema_version

TOPIC = "oms.events"
SAMPLES = sample_events()
SAMPLE_IDS = [f"{i}-{type(e).__name__}" for i, e in enumerate(SAMPLES)]


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO exactly as the Avro specification gives it, independent of fastavro."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def mock_registry() -> SchemaRegistryClient:
    # In confluent-kafka 2.16 only `new_client` turns a mock:// URL into the in-memory mock.
    return SchemaRegistryClient.new_client({"url": "mock://test"})


def avro_body(schema_name: str, record: dict) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, load_catalogue()[schema_name].parsed, record)
    return out.getvalue()


def test_samples_cover_every_type_and_both_sides_of_every_optional_field():
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)
    for cls in EVENT_TYPES:
        events = [e for e in SAMPLES if type(e) is cls]
        for name, field in cls.model_fields.items():
            if field.default is None:
                values = {getattr(e, name) is None for e in events}
                assert values == {True, False}, f"{cls.__name__}.{name} needs a sample set and one unset"


# ------------------------------------------------------------ single object


@pytest.mark.parametrize("event", SAMPLES, ids=SAMPLE_IDS)
def test_single_object_round_trip(event: Event):
    codec = SingleObjectCodec()
    data = codec.encode(TOPIC, event)
    entry = load_catalogue()[event.schema_name]
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == crc64_avro(entry.canonical.encode()).to_bytes(8, "little")
    decoded = codec.decode(TOPIC, data)
    assert type(decoded) is type(event)
    assert decoded == event


def test_decimals_are_quantized_and_compare_equal():
    event = execution_report(order_qty=Decimal("1E+2"), last_qty=Decimal("4E+1"), commission=Decimal("0.12345678"))
    codec = SingleObjectCodec()
    decoded = codec.decode(TOPIC, codec.encode(TOPIC, event))
    assert decoded == event
    assert decoded.order_qty == Decimal(100) and decoded.commission == Decimal("0.12345678")


def test_a_decimal_too_large_for_the_wire_is_refused_on_encode():
    unvalidated = new_order().model_copy(update={"quantity": Decimal("1E+21")})  # the model refuses it too
    with pytest.raises(ValueError, match=r"quantity: 1E\+21 does not fit decimal\(28,8\)"):
        SingleObjectCodec().encode(TOPIC, unvalidated)


def test_schema_records_name_every_current_schema_by_fingerprint():
    records = SingleObjectCodec().schema_records()
    catalogue = load_catalogue()
    expected = {e.fingerprint.hex().encode(): e.schema_json.encode() for e in catalogue.values()}
    assert dict(records) == expected and len(records) == len(expected)


# ---------------------------------------------------------------- confluent


def test_confluent_round_trip_with_topic_record_name_subjects():
    registry = mock_registry()
    writer = ConfluentCodec(registry)
    encoded = [(event, writer.encode(TOPIC, event)) for event in SAMPLES]
    subjects = {f"{TOPIC}-{event.schema_name}" for event in SAMPLES}
    assert set(registry.get_subjects()) == subjects

    reader = ConfluentCodec(registry)  # knows no ids yet: fetches writer schemas by id
    for event, data in encoded:
        assert data[0] == 0
        schema_id = int.from_bytes(data[1:5], "big")
        assert schema_id == registry.get_latest_version(f"{TOPIC}-{event.schema_name}").schema_id
        assert reader.decode(TOPIC, data) == event


def test_confluent_subjects_are_per_topic():
    registry = mock_registry()
    codec = ConfluentCodec(registry)
    codec.encode("oms.commands", new_order())
    codec.encode("oms.audit", new_order())
    assert set(registry.get_subjects()) == {"oms.commands-oms.NewOrder", "oms.audit-oms.NewOrder"}


def test_confluent_reads_an_older_writer_schema():
    registry = mock_registry()
    older = schema_version("oms.NewOrder", drop=("venue",))
    data = ConfluentCodec(registry, load_catalogue().replacing(older)).encode(TOPIC, new_order())
    assert ConfluentCodec(registry).decode(TOPIC, data) == new_order(venue=None)


def test_make_codec_picks_the_format():
    assert isinstance(make_codec(None), SingleObjectCodec)
    assert isinstance(make_codec("mock://oms"), ConfluentCodec)


# ------------------------------------------------------------------ errors


def single_object(schema_name: str, body: bytes) -> bytes:
    return b"\xc3\x01" + load_catalogue()[schema_name].fingerprint + body


GOOD = SingleObjectCodec().encode(TOPIC, new_order())
INVALID_NEW_ORDER = avro_body("oms.NewOrder", {**new_order().to_record(), "quantity": Decimal(0)})

SINGLE_OBJECT_ERRORS = {
    "empty": (b"", "starts with nothing, expected c3 01"),
    "garbage": (b"hello, world", "starts with 68 65, expected c3 01"),
    "confluent bytes": (b"\x00\x00\x00\x00\x01" + GOOD[10:], "starts with 00 00"),
    "short header": (GOOD[:6], "truncated single-object header: 6 bytes"),
    "unknown fingerprint": (b"\xc3\x01" + bytes(8) + GOOD[10:], "unknown schema fingerprint 0000000000000000"),
    "truncated body": (GOOD[:-4], "cannot read oms.NewOrder Avro body"),
    "trailing bytes": (GOOD + b"\x00", "1 trailing bytes after the oms.NewOrder Avro body"),
    "invalid record": (single_object("oms.NewOrder", INVALID_NEW_ORDER), "oms.NewOrder record does not validate"),
}


@pytest.mark.parametrize("data, message", SINGLE_OBJECT_ERRORS.values(), ids=SINGLE_OBJECT_ERRORS.keys())
def test_single_object_decode_errors(data: bytes, message: str):
    with pytest.raises(DecodeError, match=message):
        SingleObjectCodec().decode(TOPIC, data)


def test_validation_error_says_which_field_and_why():
    with pytest.raises(DecodeError) as error:
        SingleObjectCodec().decode(TOPIC, single_object("oms.NewOrder", INVALID_NEW_ORDER))
    assert "quantity" in str(error.value) and "greater than 0" in str(error.value)


def test_confluent_decode_errors():
    registry = mock_registry()
    codec = ConfluentCodec(registry)
    good = codec.encode(TOPIC, new_order())
    schema_id = good[1:5]
    cases = {
        GOOD: "not Confluent wire format: magic byte 0xc3",
        b"\x00\x00": "truncated Confluent header: 2 bytes",
        b"\x00\x00\x00\x03\xe7" + good[5:]: "unknown schema id 999",
        good[:-3]: "cannot read oms.NewOrder Avro body",
        b"\x00" + schema_id + INVALID_NEW_ORDER: "oms.NewOrder record does not validate",
    }
    for data, message in cases.items():
        with pytest.raises(DecodeError, match=message):
            ConfluentCodec(registry).decode(TOPIC, data)


def test_confluent_writer_schema_of_an_unknown_record_is_a_decode_error():
    registry = mock_registry()
    schema_id = registry.register_schema("x-oms.Other", Schema('{"type":"record","name":"oms.Other","fields":[]}'))
    with pytest.raises(DecodeError, match="no current schema or event type for record 'oms.Other'"):
        ConfluentCodec(registry).decode(TOPIC, b"\x00" + schema_id.to_bytes(4, "big"))


def test_keys_are_utf8():
    assert decode_key(encode_key("ACC-001/é")) == "ACC-001/é"
    with pytest.raises(DecodeError, match="key is not UTF-8"):
        decode_key(b"\xff\xfe")


# --------------------------------------------------------- the schemas topic


def create_schemas_topic(bootstrap_servers: str, topic: str) -> str:
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    created = admin.create_topics([NewTopic(topic, 1, 1, config={"cleanup.policy": "compact"})])
    created[topic].result(timeout=30)
    return topic


@pytest.mark.kafka
def test_codec_learns_a_writer_schema_from_the_schemas_topic(bootstrap_servers: str, unique_name: str):
    topic = create_schemas_topic(bootstrap_servers, f"{unique_name}.schemas")
    older = schema_version("oms.NewOrder", drop=("venue",))
    writer = SingleObjectCodec(load_catalogue().replacing(older))
    publish_schemas(Producer({"bootstrap.servers": bootstrap_servers}), topic, writer)
    data = writer.encode("oms.commands", new_order())

    reader = SingleObjectCodec()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        reader.decode("oms.commands", data)
    assert learn_schemas(bootstrap_servers, topic, reader, timeout=30) == len(load_catalogue())
    assert reader.decode("oms.commands", data) == new_order(venue=None)


@pytest.mark.kafka
def test_learn_schemas_skips_what_is_not_a_schema(bootstrap_servers: str, unique_name: str):
    topic = create_schemas_topic(bootstrap_servers, f"{unique_name}.schemas")
    assert learn_schemas(bootstrap_servers, topic, SingleObjectCodec(), timeout=30) == 0

    producer = Producer({"bootstrap.servers": bootstrap_servers})
    producer.produce(topic, key=b"0000000000000000", value=b"{not json")
    producer.produce(topic, key=b"tombstone", value=None)
    publish_schemas(producer, topic, SingleObjectCodec())
    assert learn_schemas(bootstrap_servers, topic, SingleObjectCodec(), timeout=30) == len(load_catalogue())


# -------------------------------------------------------------- record names


@pytest.mark.parametrize("framing", ["single-object", "confluent"])
def test_the_record_name_is_read_from_the_header_alone(framing):
    writer = SingleObjectCodec() if framing == "single-object" else ConfluentCodec(mock_registry())
    reader = writer if framing == "single-object" else ConfluentCodec(writer.registry)
    header = 10 if framing == "single-object" else 5
    for event in SAMPLES:
        data = writer.encode(TOPIC, event)
        assert reader.record_name(data) == event.schema_name
        assert reader.record_name(data[:header] + b"\xff") == event.schema_name  # the body is never read


def test_a_header_that_names_no_schema_is_a_decode_error():
    single = SingleObjectCodec()
    for data, says in ((b"\x00garbage", "not Avro single-object"), (b"\xc3\x01\x00", "truncated"),
                       (b"\xc3\x01" + bytes(8), "unknown schema fingerprint")):
        with pytest.raises(DecodeError, match=says):
            single.record_name(data)
    confluent = ConfluentCodec(mock_registry())
    for data, says in ((b"\x00\x00", "truncated"), (b"\x07\x00\x00\x00\x01body", "not Confluent wire format"),
                       (b"\x00\x00\x00\x03\xe7body", "unknown schema id")):
        with pytest.raises(DecodeError, match=says):
            confluent.record_name(data)


# ------------------------------------------------------- the decimal writer


def _fastavro_body(event: Event) -> bytes:
    """The body as fastavro's own decimal logical type writes it (the reference)."""
    from streams.codec import _entry_for, _record

    out = io.BytesIO()
    fastavro.schemaless_writer(out, _entry_for(load_catalogue(), event).parsed, _record(event))
    return out.getvalue()


def test_every_sample_is_written_byte_for_byte_as_fastavro_writes_it():
    codec = SingleObjectCodec()
    for event in SAMPLES:
        assert codec.encode(TOPIC, event)[10:] == _fastavro_body(event), type(event).__name__


_ONE_DECIMAL = fastavro.parse_schema({"type": "record", "name": "One", "fields": [
    {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 28, "scale": 8}}]})


def _fastavro_decimal(value: Decimal) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, _ONE_DECIMAL, {"d": value.quantize(Decimal("1e-8"))})
    return out.getvalue()[1:]  # after the length byte (every value here is under 64 bytes)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.decimals(min_value=Decimal("-99999999999999999999.99999999"), max_value=Decimal("99999999999999999999.99999999"),
                allow_nan=False, allow_infinity=False, places=8),
    st.decimals(min_value=Decimal(-10 ** 6), max_value=Decimal(10 ** 6), allow_nan=False, allow_infinity=False),
    st.integers(-(2 ** 20), 2 ** 20).map(lambda n: Decimal(n).scaleb(-8)),  # two's-complement edges: -128, 127, ...
    st.sampled_from([Decimal("-0"), Decimal("0E-12"), Decimal("-1.28E-6"), Decimal("1.27E-6"), Decimal("-1E-8")]),
))
def test_a_decimal_is_written_as_fastavro_writes_it(value):
    from streams.codec import _wire_decimal

    assert _wire_decimal(value, "oms.NewOrder.quantity") == _fastavro_decimal(value)
    assert _wire_decimal(value, "oms.NewOrder.quantity") == _fastavro_decimal(value)  # again, from the values kept


def test_a_decimal_that_does_not_fit_the_wire_is_refused_and_never_kept():
    from streams.codec import _WIRE_DECIMALS, _wire_decimal

    for value in (Decimal("1e21"), Decimal("NaN"), Decimal("-Infinity")):
        with pytest.raises(ValueError, match=r"oms.NewOrder.quantity: .* does not fit decimal\(28,8\)"):
            _wire_decimal(value, "oms.NewOrder.quantity")
        assert value not in _WIRE_DECIMALS or value != value  # NaN never equals itself


def test_every_sample_decodes_as_fastavro_s_logical_types_and_pydantic_decode_it():
    """The reference: fastavro reading the body with its decimal logical type, then the model's
    validation. The codec reads decimals as bytes and converts them itself: the same values,
    digits and exponents, book levels included."""
    codec = SingleObjectCodec()
    catalogue = load_catalogue()
    for event in SAMPLES:
        data = codec.encode(TOPIC, event)
        record = fastavro.schemaless_reader(io.BytesIO(data[10:]), catalogue[event.schema_name].parsed)
        expected = type(event).model_validate(record)
        for strict in (True, False):
            got = codec.decode(TOPIC, data, canonical=strict, validate=strict)
            assert got == expected == event
            assert repr(got) == repr(expected), type(event).__name__  # Decimal reprs show the exponents
