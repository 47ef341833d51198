"""Bytes on the wire <-> `oms.events.Event` values, in two Avro framings.

This module owns the value codecs and the key codec. `SingleObjectCodec` is the
Avro single-object encoding (`C3 01`, 8-byte CRC-64-AVRO fingerprint, body),
needing no registry: writer schemas are the catalogue's plus any learned from
the compacted schemas topic. `ConfluentCodec` is the Confluent wire format
(magic 0, 4-byte schema id, body) with TopicRecordNameStrategy subjects. Both
decode with Avro schema resolution into the current schema of the same record
name, so older data reads under newer schemas, then validate with pydantic; any
failure to turn bytes into a valid event is a `DecodeError` that says why.
Decoding for replay of the OMS's own journal can skip two checks meant for
outside input (`decode(..., canonical=False, validate=False)`): the re-encoding
check, and pydantic validation (the event is built from the Avro record as it
is, enum symbols made members, with `oms.events.built`; bodies that do not
parse, unknown symbols and records that do not fit the model are still a
`DecodeError`). A body whose writer schema is the current one is read, and
written again for the re-encoding check, without fastavro's decimal logical
type: its decimal fields (a quote's book levels' too) are converted here,
exactly as fastavro converts them, and each value once (`_plain_schema`);
events are encoded the same way. A body of an older writer schema goes
through fastavro's logical types and schema resolution.
"""

from __future__ import annotations

import io
import struct
from decimal import Context, Decimal, InvalidOperation
from enum import Enum
from typing import Any, NamedTuple, Optional, Protocol, Union, get_args, get_origin

import fastavro
from pydantic import BaseModel, ValidationError

from oms.events import BY_SCHEMA_NAME, PRECISION, SCALE, Event, built
from schemas import Catalogue, SchemaEntry, load_catalogue

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0
_CONFLUENT_HEADER = struct.Struct(">BI")
_QUANTUM = Decimal(1).scaleb(-SCALE)
_DECIMAL_CONTEXT = Context(prec=PRECISION, traps=[InvalidOperation])


class DecodeError(ValueError):
    """Bytes that are not a valid event: bad framing, unknown schema, bad body or invalid record."""


class InvalidRecord(DecodeError):
    """A well-formed Avro record that fails validation; keeps the decoded record for a reasoned refusal."""

    def __init__(self, message: str, schema_name: str, record: dict) -> None:
        super().__init__(message)
        self.schema_name = schema_name
        self.record = record


class Codec(Protocol):
    def encode(self, topic: str, event: Event) -> bytes: ...

    def decode(self, topic: str, data: bytes, *, canonical: bool = True, validate: bool = True) -> Event: ...

    def record_name(self, data: bytes) -> str:
        """The Avro record name of the writer schema `data` names in its header (e.g. "oms.OrderFilled"),
        the body left unread: what a consumer that takes only some event types needs to pass the
        others by. A `DecodeError` when the header is not this framing or names no known schema."""
        ...


# ------------------------------------------------------------------ shared


def _record(event: Event) -> dict:
    """The event as an Avro record, decimals quantized to the wire scale."""
    record = event.to_record()
    for name, value in record.items():
        if isinstance(value, Decimal):
            try:
                record[name] = value.quantize(_QUANTUM, context=_DECIMAL_CONTEXT)
            except InvalidOperation:
                raise ValueError(
                    f"{event.schema_name}.{name}: {value} does not fit decimal({PRECISION},{SCALE})"
                ) from None
    return record


def _entry_for(catalogue: Catalogue, event: Event) -> SchemaEntry:
    try:
        return catalogue[event.schema_name]
    except KeyError:
        raise ValueError(f"no schema {event.schema_name!r} for {type(event).__name__}") from None


_WIRE_DECIMALS: dict[Decimal, bytes] = {}
"""Decimal -> its bytes on the wire (`_wire_decimal`): quantities and prices repeat, and equal
decimals quantize to one value, so one conversion serves every event that carries it."""


def _wire_decimal(value: Decimal, where: str) -> bytes:
    """`value` as a decimal(PRECISION, SCALE) field's bytes, exactly as fastavro's decimal logical type
    writes them: quantized to SCALE places (a `ValueError` when it does not fit), the unscaled value
    big-endian two's complement in (bit length of its magnitude + 1) bits rounded up to bytes."""
    data = _WIRE_DECIMALS.get(value)
    if data is not None:
        return data
    try:
        quantized = value.quantize(_QUANTUM, context=_DECIMAL_CONTEXT)
    except InvalidOperation:
        quantized = None
    if quantized is None or not quantized.is_finite():
        raise ValueError(f"{where}: {value} does not fit decimal({PRECISION},{SCALE})")
    unscaled = int(quantized.scaleb(SCALE, _DECIMAL_CONTEXT))  # exact: the exponent is -SCALE
    data = unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)
    if len(_WIRE_DECIMALS) < _DECIMALS_KEPT:
        _WIRE_DECIMALS[value] = data
    return data


def _body(entry: SchemaEntry, event: Event) -> bytes:
    """The Avro body of `event`. A schema whose only logical types are decimals, its own or its array
    items' (`_plain_schema`), is written with those fields as plain bytes converted here
    (`_wire_decimal`, the same bytes), the fastavro writer then doing no logical-type work; any
    other through fastavro's logical types."""
    out = io.BytesIO()
    plain = _plain_schema(entry)
    if plain is None:
        fastavro.schemaless_writer(out, entry.parsed, _record(event))
        return out.getvalue()
    record = _wire_item(event, event.schema_name)
    for name, _ in plain.arrays:  # items are models (a quote's `BookLevel`s)
        record[name] = [_wire_item(item, f"{event.schema_name}.{name}") for item in record[name]]
    fastavro.schemaless_writer(out, plain.parsed, record)
    return out.getvalue()


def _wire_decimals(record: dict, decimals: _Decimals, where: str) -> dict:
    """A copy of `record` with its decimal fields as their bytes on the wire (`_wire_decimal`)."""
    values = dict(record)
    for field, _, _, _ in decimals:
        value = values[field]
        if value is not None:
            values[field] = _wire_decimal(value, f"{where}.{field}")
    return values


def _wire_item(item: BaseModel, where: str) -> dict:
    """A model (an event, or an item of its arrays) as a record for the plain schema: decimals as their
    bytes, enums as symbols, other values as they are."""
    record = {}
    for name, value in item.__dict__.items():
        if type(value) is Decimal:
            value = _wire_decimal(value, f"{where}.{name}")
        elif isinstance(value, Enum):
            value = value.value
        record[name] = value
    return record


def _plain_body(plain: _PlainSchema, record: dict, name: str) -> bytes:
    """A decoded record (decimals as `Decimal`) written again with `plain`: the same bytes fastavro's
    decimal logical type writes (`_wire_decimal`)."""
    values = _wire_decimals(record, plain.decimals, name)
    for field, decimals in plain.arrays:
        values[field] = [_wire_decimals(item, decimals, f"{name}.{field}") for item in values[field]]
    out = io.BytesIO()
    fastavro.schemaless_writer(out, plain.parsed, values)
    return out.getvalue()


def _require_canonical(body: bytes, schema, record: dict, name: str, plain: "_PlainSchema | None" = None) -> None:
    """Refuse a body that is not the one encoding of the record it decodes to.

    The Avro binary encoding of a value is unique for these schemas (records,
    enums, unions, primitives, decimals as minimal two's-complement bytes; no
    maps; arrays, only a quote's levels, in one block: a positive count, the
    items, then 0, as every encoder here writes them: an array blocked any
    other way is refused like any other non-canonical body). A body that decodes but
    re-encodes differently carries a value the schema does not allow and the
    reader coerced: a negative enum index read as a symbol counted from the
    end, a union branch given as a negative index, an over-long varint. Such
    bytes are refused, never coerced."""
    try:
        if plain is not None:  # the reader's own schema: written again without fastavro's logical types
            again = _plain_body(plain, record, name)
        else:
            out = io.BytesIO()
            fastavro.schemaless_writer(out, schema, record)
            again = out.getvalue()
    except Exception as exc:
        raise DecodeError(f"{name} Avro body holds values its schema does not allow: {exc}") from exc
    if again != body:
        raise DecodeError(
            f"{name} Avro body is not the canonical encoding of its values (an enum or union index out of "
            f"range, or an over-long number): refused, not coerced"
        )


_Decimals = tuple[tuple[str, Context, int, "dict[bytes, Decimal]"], ...]
"""(field, context of the field's precision, scale, the values read so far) of each decimal field of a record."""


class _PlainSchema(NamedTuple):
    """A record schema with its decimal fields read as plain bytes, and how to make them decimals."""

    parsed: dict
    """fastavro's parsed schema, every decimal field (or union branch) of the record and of the records
    in its arrays as `bytes`."""
    decimals: _Decimals
    """The record's own decimal fields."""
    arrays: tuple[tuple[str, _Decimals], ...] = ()
    """(field, the decimal fields of its items) of each array of records (a quote's book levels)."""


_DECIMALS: dict[tuple[int, int], dict[bytes, Decimal]] = {}
"""(precision, scale) -> the decimals read, by their bytes: quantities and prices repeat, and a
`Decimal` is immutable, so one read value serves every record that carries the same bytes."""
_DECIMALS_KEPT = 100_000
"""Most values kept per (precision, scale); beyond, values are converted and not kept."""


_PLAIN: dict[int, tuple[SchemaEntry, _PlainSchema | None]] = {}
"""id(entry) -> (entry, its plain schema or None): the entry is kept, so its id is never reused."""


def _logical(schema: Any) -> bool:
    """Whether a logical type appears anywhere in `schema`."""
    if isinstance(schema, dict):
        return "logicalType" in schema or any(_logical(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_logical(v) for v in schema)
    return False


def _is_decimal(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("logicalType") == "decimal" and schema.get("type") == "bytes"


def _plain_fields(fields: list[dict]) -> tuple[list[dict], list] | None:
    """A record's fields with its decimal fields (or union branches) as `bytes`, and those fields'
    `_Decimals` entries; None when any other logical type appears in them."""
    plain, decimals = [], []
    for field in fields:
        kind = field["type"]
        branches = kind if isinstance(kind, list) else [kind]
        found = [b for b in branches if _is_decimal(b)]
        if len(found) > 1 or any(_logical(b) for b in branches if not _is_decimal(b)):
            return None
        if found:
            decimal = found[0]
            precision, scale = decimal["precision"], decimal.get("scale", 0)
            decimals.append((field["name"], Context(prec=precision), scale,
                             _DECIMALS.setdefault((precision, scale), {})))
            branches = ["bytes" if _is_decimal(b) else b for b in branches]
            kind = branches if isinstance(kind, list) else branches[0]
        plain.append({**field, "type": kind})
    return plain, decimals


def _plain_schema(entry: SchemaEntry) -> _PlainSchema | None:
    """`entry` with its decimal fields as bytes: its own, and those of the records in its arrays (a
    record defined in one array and named in another is the same record); None when any other
    logical type appears (another logical type, a decimal deeper down): such schemas are read
    and written with fastavro's logical types."""
    cached = _PLAIN.get(id(entry))
    if cached is not None:
        return cached[1]
    fields: list[dict] = []
    decimals: list = []
    arrays: list[tuple[str, _Decimals]] = []
    named: dict[str, _Decimals] = {}
    plain: _PlainSchema | None = None
    for field in entry.schema["fields"]:
        kind = field["type"]
        items = kind.get("items") if isinstance(kind, dict) and kind.get("type") == "array" else None
        if isinstance(items, dict) and items.get("type") == "record":
            converted = _plain_fields(items["fields"])
            if converted is None:
                break
            item_fields, item_decimals = converted
            named[items["name"]] = tuple(item_decimals)
            arrays.append((field["name"], tuple(item_decimals)))
            fields.append({**field, "type": {**kind, "items": {**items, "fields": item_fields}}})
        elif isinstance(items, str) and items in named:  # the record an earlier array defined
            arrays.append((field["name"], named[items]))
            fields.append(field)
        else:
            branches = kind if isinstance(kind, list) else [kind]
            if any(isinstance(b, str) and named.get(b) for b in branches):
                break  # a converted record named outside an array: read with the logical types
            converted = _plain_fields([field])
            if converted is None:
                break
            fields += converted[0]
            decimals += converted[1]
    else:
        plain = _PlainSchema(fastavro.parse_schema({**entry.schema, "fields": fields}), tuple(decimals), tuple(arrays))
    _PLAIN[id(entry)] = (entry, plain)
    return plain


def _read_plain(body: io.BytesIO, plain: _PlainSchema) -> dict:
    """A record read with `plain`, its decimal fields turned into `Decimal` as fastavro's decimal
    logical type does (the unscaled big-endian two's-complement integer in a context of the field's
    precision, then scaled by -scale in that context), or taken from the values already read."""
    record = fastavro.schemaless_reader(body, plain.parsed)
    _decimals_of(record, plain.decimals)
    for name, decimals in plain.arrays:
        for item in record[name]:
            _decimals_of(item, decimals)
    return record


def _decimals_of(record: dict, decimals: _Decimals) -> None:
    """`record`'s decimal fields, read as bytes, made `Decimal` in place (`_read_plain`)."""
    for name, context, scale, known in decimals:
        value = record[name]
        if type(value) is bytes:
            number = known.get(value)
            if number is None:
                number = context.create_decimal(int.from_bytes(value, "big", signed=True)).scaleb(-scale, context)
                if len(known) < _DECIMALS_KEPT:
                    known[value] = number
            record[name] = number


_PLANS: dict[type, tuple[tuple[str, type[Enum]], ...] | None] = {}


def _enum_of(annotation: Any) -> type[Enum] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    if get_origin(annotation) in (Union, Optional):
        found = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, Enum)]
        return found[0] if len(found) == 1 else None
    return None


def _plan(model: type[Event]) -> tuple[tuple[str, type[Enum]], ...] | None:
    """The enum fields of `model` (name, enum), or None when a field holds a model or a collection:
    those records are validated (pydantic builds their nested values)."""
    if model in _PLANS:
        return _PLANS[model]
    enums: list[tuple[str, type[Enum]]] = []
    plan: tuple[tuple[str, type[Enum]], ...] | None = None
    for name, info in model.model_fields.items():
        enum = _enum_of(info.annotation)
        if enum is not None:
            enums.append((name, enum))
            continue
        args = (info.annotation, *get_args(info.annotation))
        if get_origin(info.annotation) not in (None, Union, Optional) or any(
                isinstance(a, type) and issubclass(a, BaseModel) for a in args):
            break
    else:
        plan = tuple(enums)
    _PLANS[model] = plan
    return plan


def _unvalidated(model: type[Event], record: dict, name: str) -> Event:
    """`model` built from an Avro record as it is (enum symbols made members), not validated."""
    plan = _plan(model)
    if plan is None:
        return _validated(model, record, name)
    try:
        for field, enum in plan:
            value = record[field]
            if value is not None:
                record[field] = enum(value)
        return built(model, **record)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord(f"{name} record does not fit {model.__name__}: {exc}", name, record) from exc


def _validated(model: type[Event], record: dict, name: str) -> Event:
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        raise InvalidRecord(f"{name} record does not validate: {exc}", name, record) from exc


def _event(data: bytes, offset: int, writer: SchemaEntry, catalogue: Catalogue, canonical: bool = True,
           validate: bool = True) -> Event:
    """Read the body at `offset` written with `writer` into the current schema and model.
    `canonical=False` skips the re-encoding check (`_require_canonical`) and `validate=False`
    pydantic validation (`_unvalidated`): only for bytes this OMS's own encoder wrote from
    validated events (replay of the journal), never for input from outside."""
    reader = catalogue.get(writer.name)
    model = BY_SCHEMA_NAME.get(writer.name)
    if reader is None or model is None:
        raise DecodeError(f"no current schema or event type for record {writer.name!r}")
    same = writer.fingerprint == reader.fingerprint
    schema = reader.parsed if same else writer.parsed  # same wire schema: the reader's logical types
    plain = _plain_schema(reader) if same else None
    body = io.BytesIO(data)
    body.seek(offset)
    try:
        record = fastavro.schemaless_reader(body, schema) if plain is None else _read_plain(body, plain)
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, ... on bad input
        raise DecodeError(f"cannot read {writer.name} Avro body: {type(exc).__name__}: {exc}") from exc
    if body.tell() != len(data):
        raise DecodeError(f"{len(data) - body.tell()} trailing bytes after the {writer.name} Avro body")
    if canonical:
        _require_canonical(data[offset:], schema, record, writer.name, plain)
    if not same:
        body.seek(offset)
        record = fastavro.schemaless_reader(body, writer.parsed, reader.parsed)
    return _validated(model, record, writer.name) if validate else _unvalidated(model, record, writer.name)


# ----------------------------------------------------------- single object


class SingleObjectCodec:
    """Avro single-object encoding; writer schemas found by fingerprint."""

    def __init__(self, catalogue: Catalogue | None = None):
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self._writers: dict[bytes, SchemaEntry] = dict(self.catalogue.by_fingerprint)

    def encode(self, topic: str, event: Event) -> bytes:
        entry = _entry_for(self.catalogue, event)
        return SINGLE_OBJECT_MAGIC + entry.fingerprint + _body(entry, event)

    def decode(self, topic: str, data: bytes, *, canonical: bool = True, validate: bool = True) -> Event:
        return _event(data, 10, self._writer(data), self.catalogue, canonical, validate)

    def record_name(self, data: bytes) -> str:
        return self._writer(data).name

    def _writer(self, data: bytes) -> SchemaEntry:
        if data[:2] != SINGLE_OBJECT_MAGIC:
            got = data[:2].hex(" ") or "nothing"
            raise DecodeError(f"not Avro single-object encoding: starts with {got}, expected c3 01")
        if len(data) < 10:
            raise DecodeError(f"truncated single-object header: {len(data)} bytes, need 10")
        writer = self._writers.get(data[2:10])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:10].hex()} (not in the catalogue nor learned)")
        return writer

    def learn(self, schema_json: str) -> SchemaEntry:
        """Accept a writer schema (e.g. an older version from the schemas topic)."""
        entry = SchemaEntry.from_schema(schema_json)
        return self._writers.setdefault(entry.fingerprint, entry)

    def schema_records(self) -> list[tuple[bytes, bytes]]:
        """(fingerprint hex, schema JSON) for every current schema, for the compacted schemas topic.

        The value is the full standalone schema rather than its Parsing Canonical
        Form: the canonical form drops logical types, and a writer schema without
        them would read decimals back as raw bytes.
        """
        return [(e.fingerprint.hex().encode(), e.schema_json.encode()) for e in self.catalogue.values()]


# --------------------------------------------------------------- confluent


class ConfluentCodec:
    """Confluent wire format through a schema registry, TopicRecordNameStrategy subjects.

    `confluent_kafka.schema_registry` is imported only here: it pulls in httpx
    and authlib, which the single-object path does not need.
    """

    def __init__(self, registry_client, catalogue: Catalogue | None = None):
        self.registry = registry_client
        self.catalogue = catalogue if catalogue is not None else load_catalogue()
        self._ids: dict[str, int] = {}
        self._writers: dict[int, SchemaEntry] = {}

    @staticmethod
    def subject(topic: str, record_name: str) -> str:
        return f"{topic}-{record_name}"

    def encode(self, topic: str, event: Event) -> bytes:
        from confluent_kafka.schema_registry import Schema

        entry = _entry_for(self.catalogue, event)
        subject = self.subject(topic, entry.name)
        schema_id = self._ids.get(subject)
        if schema_id is None:
            schema_id = self.registry.register_schema(subject, Schema(entry.schema_json, "AVRO"))
            self._ids[subject] = schema_id
            self._writers.setdefault(schema_id, entry)
        return _CONFLUENT_HEADER.pack(CONFLUENT_MAGIC, schema_id) + _body(entry, event)

    def decode(self, topic: str, data: bytes, *, canonical: bool = True, validate: bool = True) -> Event:
        return _event(data, 5, self._writer(self._schema_id(data)), self.catalogue, canonical, validate)

    def record_name(self, data: bytes) -> str:
        return self._writer(self._schema_id(data)).name

    @staticmethod
    def _schema_id(data: bytes) -> int:
        if len(data) < 5:
            raise DecodeError(f"truncated Confluent header: {len(data)} bytes, need 5")
        magic, schema_id = _CONFLUENT_HEADER.unpack_from(data)
        if magic != CONFLUENT_MAGIC:
            raise DecodeError(f"not Confluent wire format: magic byte {magic:#04x}, expected 0x00")
        return schema_id

    def _writer(self, schema_id: int) -> SchemaEntry:
        entry = self._writers.get(schema_id)
        if entry is None:
            from confluent_kafka.schema_registry.error import SchemaRegistryError

            try:
                schema = self.registry.get_schema(schema_id)
            except SchemaRegistryError as exc:
                if exc.http_status_code != 404:
                    raise  # the registry is unwell: not the message's fault
                raise DecodeError(f"unknown schema id {schema_id}: {exc}") from exc
            try:
                entry = SchemaEntry.from_schema(schema.schema_str)
            except Exception as exc:
                raise DecodeError(f"schema id {schema_id} is not a usable Avro record schema: {exc}") from exc
            self._writers[schema_id] = entry
        return entry


def make_codec(schema_registry_url: str | None) -> Codec:
    """The Confluent codec when a registry URL is given (`mock://...` for tests), else single-object."""
    if not schema_registry_url:
        return SingleObjectCodec()
    from confluent_kafka.schema_registry import SchemaRegistryClient

    return ConfluentCodec(SchemaRegistryClient.new_client({"url": schema_registry_url}))


# -------------------------------------------------------------------- keys


def encode_key(key: str) -> bytes:
    return key.encode("utf-8")


def decode_key(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"key is not UTF-8: {exc}") from exc
