"""`oms blotter`: the web blotter for any running OMS, served over HTTP until SIGTERM or SIGINT.

`start_blotter(settings, clock, host, port)` follows the compacted views
(`orders`, `positions`, `venue.status`, `risk.controls`) and the journal and
dead letters (`streams.follow.TopicFollower` into an
`entrypoints.web.state.BlotterState`), and serves the page and its live feed
(`entrypoints.web.app`) with uvicorn in a thread; it returns a
`BlotterServer` with the `url` and `stop()`. The page's actions run the CLI's
own commands in-process (`CliOperations`: `oms kill`, `oms risk set SCOPE
TRADING_STATE state ...`, `oms venue breaker`, with `--by` the token's user
and `--reason` the operator's), so they write exactly the audit record the CLI
writes; an order's audit trail is `oms replay --order`'s
(`replay.journal.audit`, rows by `entrypoints.replay.audit_row`). Access
tokens come from `OMS_BLOTTER_TOKENS` (`oms.config.Settings.blotter_grants`);
`--token` adds one more for this run only (`token:user:role`).
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Optional

import typer
from rich.console import Console

from entrypoints.context import Entry, entry, stopping
from entrypoints.web.app import ActionRefused, create_app
from entrypoints.web.state import BlotterState
from oms.access import Grant, parse_tokens
from oms.clock import Clock
from oms.commands import CommandError
from oms.config import Settings

log = logging.getLogger("oms.blotter")

DEFAULT_PORT = 8350


class CliOperations:
    """The blotter's actions as the CLI's commands, run in-process on the blotter's settings and clock."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    def _run(self, argv: list[str]) -> str:
        from entrypoints.cli import main  # the CLI registers this module's command: import at call time

        out = io.StringIO()
        console = Console(file=out, width=200, no_color=True, highlight=False)
        code = main(argv, obj=Entry(self._settings, self._clock, console=console, err_console=console))
        message = out.getvalue().strip()
        if code == 2:
            raise ActionRefused(message.removeprefix("error: "))
        if code != 0:
            raise RuntimeError(f"oms {' '.join(argv[:2])} failed with status {code}: {message}")
        return message

    def kill_switch(self, scope: str, on: bool, user: str, reason: str) -> str:
        target = ["--all"] if scope == "*" else [scope]
        return self._run(["kill", *target, *([] if on else ["--off"]), "--by", user, "--reason", reason])

    def trading_state(self, scope: str, state: str, user: str, reason: str) -> str:
        return self._run(["risk", "set", scope, "TRADING_STATE", "state", state, "--by", user, "--reason", reason])

    def venue_breaker(self, venue: str, mode: str, user: str, reason: str) -> str:
        return self._run(["venue", "breaker", venue, mode, "--by", user, "--reason", reason])

    def audit(self, order_id: str) -> list[dict[str, str]]:
        from entrypoints.replay import AUDIT_COLUMNS, audit_row
        from replay.journal import audit
        from streams.runtime import connect

        runtime = connect(self._settings)
        return [dict(zip(AUDIT_COLUMNS, audit_row(runtime.topics, r))) for r in audit(runtime, order_id, timeout=10)]


@dataclass
class BlotterServer:
    """A running blotter: its address, its state, and how to stop it."""

    url: str
    state: BlotterState
    _stop: threading.Event
    _server: object
    _thread: threading.Thread
    _follower: object
    grants: dict[str, Grant] = field(default_factory=dict)

    def wait_caught_up(self, timeout: float = 30.0) -> bool:
        return self._follower.wait_caught_up(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._follower.stop()


def start_blotter(settings: Settings, clock: Clock, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                  grants: dict[str, Grant] | None = None, operations=None) -> BlotterServer:
    """Follow the OMS on `settings` and serve its blotter on host:port (0: any free port), in threads."""
    import uvicorn

    from streams.follow import TopicFollower
    from streams.runtime import connect

    grants = settings.blotter_grants if grants is None else grants
    runtime = connect(settings)
    topics = runtime.topics
    state = BlotterState(topics, settings.default_limits)
    follower = TopicFollower(runtime, [topics.orders, topics.positions, topics.risk_controls, topics.venue_status,
                                       topics.journal, topics.deadletter], state.apply, name="blotter").start()
    stop = threading.Event()
    app = create_app(state, grants, operations or CliOperations(settings, clock), stopping=stop,
                     title=f"OMS blotter ({settings.topic_prefix or 'no prefix'})")
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        follower.stop()
        raise CommandError("port", f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1,
                                           lifespan="off"))
    server.install_signal_handlers = lambda: None  # the entry point's `stopping()` owns the signals
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="blotter-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    shown = f"[{host}]" if ":" in host else host
    return BlotterServer(f"http://{shown}:{bound}/", state, stop, server, thread, follower, grants)


def blotter(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="the address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="the port to listen on (0: any free port)")] = DEFAULT_PORT,
    token: Annotated[Optional[str], typer.Option(
        help="one more access token for this run, token:user:role (role read or operate)")] = None,
) -> None:
    """Serve the web blotter of the running OMS: live orders, audit trails, positions, risk, venues; the
    kill switch, trading states and venue breakers for operators (tokens: OMS_BLOTTER_TOKENS)."""
    e = entry(ctx)
    try:
        grants = {**e.settings.blotter_grants, **parse_tokens(token or "")}
    except ValueError as exc:
        raise CommandError("token", str(exc)) from None
    if not grants:
        raise CommandError("OMS_BLOTTER_TOKENS", "no access token: set OMS_BLOTTER_TOKENS (token:user:role,...) "
                                                 "or give --token")
    with stopping() as stop:
        server = start_blotter(e.settings, e.clock, host=host, port=port, grants=grants)
        e.console.print(f"blotter at [bold]{server.url}[/] (open {server.url}#token=<your token>); Ctrl-C stops it")
        try:
            while not stop.wait(0.5):
                pass
        finally:
            server.stop()
