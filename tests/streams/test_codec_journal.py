"""The journal decode path (`canonical=False, validate=False`): the same events as the checked
path, decimals converted as fastavro's logical type converts them, bad bodies and records still refused."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from enum import Enum

import fastavro
import pytest
import streams.codec as codec_module
from hypothesis import given
from hypothesis import strategies as st

from oms.events import Side, checking_built
from streams.codec import SINGLE_OBJECT_MAGIC, DecodeError, InvalidRecord, SingleObjectCodec, _plain_schema
from tests.builders import execution_report, new_order, order_filled, sample_events

TOPIC = "oms.order.events"
SAMPLES = sample_events()


@pytest.fixture(scope="module")
def codec() -> SingleObjectCodec:
    return SingleObjectCodec()


@pytest.mark.parametrize("event", SAMPLES, ids=[f"{i}-{type(e).__name__}" for i, e in enumerate(SAMPLES)])
def test_every_sample_decodes_to_the_validated_event(codec, event):
    data = codec.encode(TOPIC, event)
    checked = codec.decode(TOPIC, data)
    with checking_built():  # the event built without validation is validated and compared here
        fast = codec.decode(TOPIC, data, canonical=False, validate=False)
        plain = codec.decode(TOPIC, data, canonical=False)
    assert fast == checked == plain
    for name in type(event).model_fields:
        assert type(getattr(fast, name)) is type(getattr(checked, name)), name


@given(unscaled=st.integers(min_value=-(10**40), max_value=10**40))
def test_decimals_read_as_bytes_convert_exactly_as_the_logical_type_reads_them(unscaled):
    codec = SingleObjectCodec()
    entry = codec.catalogue["oms.OrderFilled"]
    record = order_filled().to_record()
    out = io.BytesIO()
    raw = fastavro.parse_schema({**entry.schema, "fields": [
        {**f, "type": "bytes"} if f["name"] == "last_px" else f for f in entry.schema["fields"]]})
    length = (unscaled.bit_length() + 8) // 8
    fastavro.schemaless_writer(out, raw, {**record, "last_px": unscaled.to_bytes(length, "big", signed=True)})
    body = out.getvalue()
    expected = fastavro.schemaless_reader(io.BytesIO(body), entry.parsed)["last_px"]
    data = SINGLE_OBJECT_MAGIC + entry.fingerprint + body
    got = codec.decode(TOPIC, data, canonical=False, validate=False).last_px
    assert got == expected and str(got) == str(expected)


def test_a_schema_with_decimals_inside_arrays_is_read_plain_too(codec):
    quote = _plain_schema(codec.catalogue["oms.Quote"])
    assert len(quote.decimals) == 4  # bid and ask, price and size
    assert [(field, [d[0] for d in decimals]) for field, decimals in quote.arrays] == [
        ("bid_levels", ["price", "size"]), ("ask_levels", ["price", "size"])]  # one record, named twice
    assert len(_plain_schema(codec.catalogue["oms.OrderFilled"]).decimals) == 6


def test_a_schema_with_another_logical_type_or_a_deeper_decimal_is_not_read_plain():
    from schemas import SchemaEntry

    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 28, "scale": 8}
    level = {"type": "record", "name": "t.Level", "fields": [{"name": "price", "type": decimal}]}
    for fields in ([{"name": "when", "type": {"type": "long", "logicalType": "timestamp-millis"}}],
                   [{"name": "top", "type": level}],  # a record with a decimal, not in an array
                   [{"name": "levels", "type": {"type": "array", "items": level}}, {"name": "top", "type": "t.Level"}],
                   [{"name": "deep", "type": {"type": "array", "items": {"type": "array", "items": decimal}}}]):
        entry = SchemaEntry.from_schema(json.dumps({"type": "record", "name": "t.X", "fields": fields}))
        assert _plain_schema(entry) is None, fields


def test_a_truncated_body_is_still_refused(codec):
    data = codec.encode(TOPIC, order_filled())
    with pytest.raises(DecodeError, match="cannot read oms.OrderFilled"):
        codec.decode(TOPIC, data[:-3], canonical=False, validate=False)


def test_trailing_bytes_are_still_refused(codec):
    data = codec.encode(TOPIC, order_filled())
    with pytest.raises(DecodeError, match="trailing bytes"):
        codec.decode(TOPIC, data + b"\x00", canonical=False, validate=False)


def test_an_enum_symbol_the_model_lacks_is_refused_with_the_record(codec, monkeypatch):
    data = codec.encode(TOPIC, order_filled(side=Side.SELL))

    class Narrow(str, Enum):
        BUY = "BUY"

    plan = codec_module._plan(type(order_filled()))
    monkeypatch.setitem(codec_module._PLANS, type(order_filled()),
                        tuple((name, Narrow if name == "side" else enum) for name, enum in plan))
    with pytest.raises(InvalidRecord, match="does not fit OrderFilled") as caught:
        codec.decode(TOPIC, data, canonical=False, validate=False)
    assert caught.value.record["order_id"] == order_filled().order_id


def test_the_checked_path_still_validates(codec):
    event = execution_report(last_qty=Decimal("5"))
    data = codec.encode("oms.exec.reports", event)
    assert codec.decode("oms.exec.reports", data) == event
    bad = new_order().model_copy(update={"account": "not an identifier"})
    with pytest.raises(DecodeError, match="does not validate"):
        codec.decode("oms.commands", codec.encode("oms.commands", bad), canonical=False)


def test_a_decimal_read_again_is_the_same_value_kept_or_not(codec, monkeypatch):
    first = order_filled(last_px=Decimal("187.24"), last_qty=Decimal("40"))
    data = codec.encode(TOPIC, first)
    kept = codec.decode(TOPIC, data, canonical=False, validate=False)
    again = codec.decode(TOPIC, data, canonical=False, validate=False)
    assert again.last_px is kept.last_px  # the value read the first time
    monkeypatch.setattr(codec_module, "_DECIMALS_KEPT", 0)
    monkeypatch.setattr(codec_module, "_DECIMALS", {})
    monkeypatch.setattr(codec_module, "_PLAIN", {})
    fresh = codec.decode(TOPIC, data, canonical=False, validate=False)
    assert fresh == kept == codec.decode(TOPIC, data) and fresh.last_px is not kept.last_px
    assert codec_module._DECIMALS[(28, 8)] == {}
