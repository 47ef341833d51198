"""Strict decoding: bytes that decode only by coercion (an out-of-range enum index, an
over-long varint) are refused with a `DecodeError`, never read as some other value."""

from __future__ import annotations

import io

import fastavro
import pytest

from oms.events import Side, TimeInForce
from streams.codec import SINGLE_OBJECT_MAGIC, DecodeError, SingleObjectCodec
from tests.builders import new_order


def _zigzag(n: int) -> bytes:
    """Avro's varint of `n` (zigzag, little-endian base 128)."""
    value = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _with_enum_index(codec: SingleObjectCodec, order, field: str, index_bytes: bytes) -> bytes:
    """The single-object bytes of `order` with the varint of enum `field` replaced by `index_bytes`."""
    entry = codec.catalogue[order.schema_name]
    record = order.to_record()
    head = io.BytesIO()
    names = [f["name"] for f in entry.parsed["fields"]]
    before = {k: record[k] for k in names[: names.index(field)]}
    partial = {"type": "record", "name": "Head", "fields": entry.parsed["fields"][: names.index(field)]}
    fastavro.schemaless_writer(head, fastavro.parse_schema(partial), before)
    full = codec.encode("t", order)
    body = full[10:]
    prefix = head.getvalue()
    assert body.startswith(prefix)
    symbols = [f for f in entry.parsed["fields"] if f["name"] == field][0]["type"]["symbols"]
    original = _zigzag(symbols.index(record[field]))
    assert body[len(prefix):].startswith(original)
    return SINGLE_OBJECT_MAGIC + entry.fingerprint + prefix + index_bytes + body[len(prefix) + len(original):]


@pytest.fixture
def codec() -> SingleObjectCodec:
    return SingleObjectCodec()


def test_the_canonical_encoding_decodes(codec):
    order = new_order(side=Side.BUY, time_in_force=TimeInForce.DAY)
    assert codec.decode("t", _with_enum_index(codec, order, "side", _zigzag(0))) == order


@pytest.mark.parametrize("index", [-1, -2])
def test_a_negative_enum_index_is_refused_not_read_from_the_end(codec, index):
    data = _with_enum_index(codec, new_order(side=Side.BUY), "side", _zigzag(index))
    with pytest.raises(DecodeError, match="not the canonical encoding"):
        codec.decode("t", data)


def test_an_enum_index_past_the_symbols_is_refused(codec):
    data = _with_enum_index(codec, new_order(), "time_in_force", _zigzag(40))
    with pytest.raises(DecodeError):
        codec.decode("t", data)


def test_an_over_long_varint_is_refused(codec):
    # index 0 written in two bytes (0x80 0x00) instead of one (0x00)
    data = _with_enum_index(codec, new_order(side=Side.BUY), "side", b"\x80\x00")
    with pytest.raises(DecodeError, match="not the canonical encoding"):
        codec.decode("t", data)


def test_without_the_canonical_check_only_the_re_encoding_is_skipped(codec):
    """For bytes the OMS's own encoder wrote (replay of the journal): an over-long varint, which
    only the re-encoding notices, reads; a body that does not parse is still refused."""
    order = new_order(side=Side.BUY)
    assert codec.decode("t", _with_enum_index(codec, order, "side", b"\x80\x00"), canonical=False) == order
    with pytest.raises(DecodeError):
        codec.decode("t", _with_enum_index(codec, new_order(), "time_in_force", _zigzag(40)), canonical=False)


def _with_quantity_bytes(codec: SingleObjectCodec, order, unscaled: bytes) -> bytes:
    """The single-object bytes of `order` with its quantity's decimal bytes replaced by `unscaled`."""
    from streams.codec import _plain_schema

    entry = codec.catalogue[order.schema_name]
    plain = _plain_schema(entry)
    body = io.BytesIO(codec.encode("t", order)[10:])
    record = fastavro.schemaless_reader(body, plain.parsed)
    record["quantity"] = unscaled
    out = io.BytesIO()
    fastavro.schemaless_writer(out, plain.parsed, record)
    return SINGLE_OBJECT_MAGIC + entry.fingerprint + out.getvalue()


def test_a_decimal_padded_with_a_needless_byte_is_refused(codec):
    from decimal import Decimal

    order = new_order(quantity=Decimal("100"))
    unscaled = int(Decimal("100").scaleb(8))
    minimal = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
    assert codec.decode("t", _with_quantity_bytes(codec, order, minimal)) == order
    padded = _with_quantity_bytes(codec, order, b"\x00" + minimal)  # the same number in one byte more
    with pytest.raises(DecodeError, match="not the canonical encoding"):
        codec.decode("t", padded)
    assert codec.decode("t", padded, canonical=False, validate=False).quantity == Decimal("100")


def test_a_decimal_of_more_digits_than_the_wire_holds_is_refused(codec):
    order = new_order()
    huge = (10 ** 30).to_bytes(13, "big", signed=True)  # 31 digits, over decimal(28, 8)
    with pytest.raises(DecodeError):
        codec.decode("t", _with_quantity_bytes(codec, order, huge))
