"""The Avro schema catalogue: the `.avsc` files in this directory, loaded once.

The files are the source of truth for the wire (one per named type, named
`<namespace>.<name>.avsc`; records refer to enums by full name). This module
owns turning them into what the codecs and the registry need, per record full
name: the standalone schema with named references inlined, the fastavro parsed
schema, the Parsing Canonical Form and its CRC-64-AVRO fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import fastavro
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

SCHEMA_DIR = Path(__file__).parent
"""Where the `.avsc` files live (shipped as package data)."""


@dataclass(frozen=True)
class SchemaEntry:
    """One record schema in every form the codecs need."""

    name: str
    """Full name, e.g. `oms.NewOrder`."""
    schema: dict
    """Standalone schema: enums inlined at first use, docs and defaults kept."""
    parsed: dict
    """fastavro's parsed schema, for `schemaless_writer` / `schemaless_reader`."""
    canonical: str
    """Parsing Canonical Form (no docs, defaults or logical types)."""
    fingerprint: bytes
    """CRC-64-AVRO of `canonical`, 8 bytes little-endian as in single-object encoding."""

    @classmethod
    def from_schema(cls, schema: dict | str) -> "SchemaEntry":
        """Parse a standalone record schema (a dict or its JSON)."""
        parsed = fastavro.parse_schema(json.loads(schema) if isinstance(schema, str) else schema)
        return cls._from_parsed(parsed)

    @classmethod
    def _from_parsed(cls, parsed: dict) -> "SchemaEntry":
        if parsed.get("type") != "record":
            raise ValueError(f"not a record schema: {parsed.get('name', parsed)!r}")
        canonical = to_parsing_canonical_form(parsed)
        # fastavro renders CRC-64-AVRO as the hex of its little-endian bytes.
        return cls(
            name=parsed["name"],
            schema={k: v for k, v in parsed.items() if not k.startswith("__")},
            parsed=parsed,
            canonical=canonical,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        )

    @property
    def schema_json(self) -> str:
        """The standalone schema as compact JSON (for a registry or the schemas topic)."""
        return json.dumps(self.schema, separators=(",", ":"))


class Catalogue(Mapping[str, SchemaEntry]):
    """Record schemas by full name, and by fingerprint."""

    def __init__(self, entries: Iterable[SchemaEntry]):
        self._by_name = {e.name: e for e in entries}
        self.by_fingerprint: dict[bytes, SchemaEntry] = {e.fingerprint: e for e in self._by_name.values()}

    def __getitem__(self, name: str) -> SchemaEntry:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def replacing(self, *entries: SchemaEntry) -> "Catalogue":
        """A copy with these entries in place of the ones of the same name."""
        return Catalogue([*self._by_name.values(), *entries])


def load_file(path: Path) -> dict:
    """One `.avsc` file parsed by fastavro, named references resolved from its directory."""
    return load_schema(str(path))


@lru_cache(maxsize=None)
def load_catalogue(directory: Path = SCHEMA_DIR) -> Catalogue:
    """Every record schema in `directory` (cached; enums are only inlined, not listed)."""
    parsed = (load_file(path) for path in sorted(directory.glob("*.avsc")))
    return Catalogue(SchemaEntry._from_parsed(p) for p in parsed if p["type"] == "record")
