"""What every entry point hands down, and how a command line becomes an exit status.

`Entry` is made once per process, at the top: the `Settings` read from the
environment (`Settings.from_env`, the only call to it outside tests), the
`LiveClock`, and the consoles that tables and messages go to. Commands get it
with `entry(ctx)` and pass its parts down; nothing below reads the
environment or makes a clock. `run(app, argv)` runs a Typer app and returns
the exit status instead of exiting: 0 on success, the status a command gives
with `typer.Exit`, 2 for a usage error (printed by Typer) or an invalid input
(`CommandError`, printed as `error: <field>: <message>`; nothing is published).
`stopping()` turns SIGTERM and SIGINT into a stop event for the long-running
processes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from oms.clock import Clock, LiveClock
from oms.commands import CommandError
from oms.config import Settings

EXIT_USAGE = 2
"""Exit status of a refused command line or input."""

log = logging.getLogger("oms.entrypoints")


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 150)


@dataclass(frozen=True)
class Entry:
    """The settings, clock and consoles of one process, made at its entry point."""

    settings: Settings
    clock: Clock
    console: Console = field(default_factory=_console)
    err_console: Console = field(default_factory=lambda: _console(stderr=True))

    @classmethod
    def load(cls) -> "Entry":
        """Read the environment (once) and start the wall clock."""
        try:
            settings = Settings.from_env()
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CommandError(".".join(str(x) for x in first["loc"]), first["msg"]) from None
        return cls(settings, LiveClock())


def refused(exc: ValueError, field: str) -> CommandError:
    """`exc` ("<field>: <message>", as the domain words its refusals) as a `CommandError` naming the field."""
    name, sep, message = str(exc).partition(": ")
    if sep and name.isidentifier():
        return CommandError(name, message)
    return CommandError(field, str(exc))


def entry(ctx: typer.Context) -> Entry:
    """The process's `Entry`: the one given to `run`, else loaded now, once, for the whole command line."""
    root = ctx.find_root()
    if root.obj is None:
        root.obj = Entry.load()
    return root.obj


def configure_logging(level: int | str) -> None:
    """Log to stderr at `level` (the command's own flags decide it, so this replaces any earlier setup);
    the loggers named in `OMS_DEBUG` (comma-separated, e.g. `oms.worker.fills`) log at DEBUG."""
    if isinstance(level, str):
        level = level.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise CommandError("loglevel", f"{level.lower()!r} is not debug, info, warning, error or critical")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    for name in os.environ.get("OMS_DEBUG", "").split(","):  # loggers to log at DEBUG whatever the level
        if name.strip():
            logging.getLogger(name.strip()).setLevel(logging.DEBUG)


def run(app: typer.Typer, argv: Sequence[str] | None = None, *, prog_name: str,
        obj: Entry | None = None) -> int:
    """Run `app` on `argv` (default: `sys.argv[1:]`) and return the exit status; `obj` replaces `Entry.load()`."""
    command = typer.main.get_command(app)
    try:
        command.main(args=None if argv is None else [str(a) for a in argv], prog_name=prog_name, obj=obj,
                     standalone_mode=True)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except CommandError as exc:
        console = obj.err_console if obj is not None else _console(stderr=True)
        console.print(f"[red]error[/]: {escape(exc.field)}: {escape(exc.message)}", highlight=False)
        return EXIT_USAGE
    return 0


@contextmanager
def stopping() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (handlers only in the main thread)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum, _frame):
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
