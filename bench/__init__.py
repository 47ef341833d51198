"""Micro-benchmarks of the OMS hot paths, each runnable as `python -m bench.<name>`."""

from __future__ import annotations

import json
from pathlib import Path


def show_rows(table, rows: list[dict], json_path: Path | None, width: int) -> list[dict]:
    """Print a bench's `table` (a rich Table) at least `width` columns wide and, when `json_path` is
    given, write its `rows` there as `{"rows": [...]}`; returns the rows."""
    from rich.console import Console

    Console(width=max(Console().width, width)).print(table)
    if json_path is not None:
        json_path.write_text(json.dumps({"rows": rows}, indent=2))
    return rows
