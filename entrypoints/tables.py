"""The CLI's tables: rich tables whose cells wrap instead of being cut short.

An id (order id, client order id, event id, exec id) is never shown as "…":
`table(*headers, **options)` is a `rich.table.Table` whose every column folds a
value too long for its width onto the next line (`overflow="fold"`), so an
80-column terminal shows each id whole, over several lines if need be.
"""

from __future__ import annotations

from rich.table import Table


def table(*headers: str, **options) -> Table:
    """A `Table` with `headers` as columns that fold long values (ids stay whole) and a title that wraps."""
    out = Table(**options)
    for header in headers:
        out.add_column(header, overflow="fold")
    return out
