"""The blotter's HTTP side: the page, its live feed (server-sent events), one order's audit trail, and actions.

`create_app(state, grants, operations)` builds a Starlette app over a
`BlotterState`. Every `/api` call needs a token (`Authorization: Bearer <token>`,
or `?token=` for the event stream, which a browser opens without headers)
that `grants` knows: 401 otherwise. Reading needs any role; the actions need
`operate` (403 for a `read` token) and a reason, and are carried out by
`operations` (`Operations`: the CLI's own commands, so the audit record — who,
why — is the one `oms kill` / `oms risk set` / `oms venue breaker` write; the
user is the token's). A refused action (bad input) answers 400 with the message.

Routes: `GET /` the page; `GET /static/...` its script and style;
`GET /api/whoami`; `GET /api/snapshot`; `GET /api/stream` (SSE: a `snapshot`
event, then `update` events as they happen, a comment every 15 s);
`GET /api/orders/{order_id}/audit`; `POST /api/kill` `{scope, on, reason}`;
`POST /api/trading-state` `{scope, state, reason}`; `POST /api/venue-breaker`
`{venue, mode, reason}` (mode open, close or auto).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from entrypoints.web.state import BlotterState
from oms.access import Grant

STATIC = Path(__file__).parent / "static"
TRADING_STATES = ("ACTIVE", "REDUCING", "HALTED")
BREAKER_MODES = ("open", "close", "auto")
PUSH_EVERY = 0.2
"""Seconds between two looks at the state for a stream's updates."""
HEARTBEAT = 15.0


class ActionRefused(ValueError):
    """An action's input was refused (the message says which field and why); nothing was written."""


class Operations(Protocol):
    """What the page may change; each call writes one audited control or raises `ActionRefused`."""

    def kill_switch(self, scope: str, on: bool, user: str, reason: str) -> str: ...
    def trading_state(self, scope: str, state: str, user: str, reason: str) -> str: ...
    def venue_breaker(self, venue: str, mode: str, user: str, reason: str) -> str: ...
    def audit(self, order_id: str) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class Caller:
    token: str
    grant: Grant


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(state: BlotterState, grants: dict[str, Grant], operations: Operations, *,
               stopping: threading.Event | None = None, title: str = "OMS blotter") -> Starlette:
    stopping = stopping or threading.Event()
    actions_lock = threading.Lock()

    def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        grant = grants.get(token) if token else None
        if grant is None:
            raise Denied(401, "a valid access token is needed (OMS_BLOTTER_TOKENS)")
        return Caller(token, grant)

    def guarded(handler: Callable, *, operate: bool = False) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                who = caller(request)
                if operate and not who.grant.may_operate:
                    raise Denied(403, f"user {who.grant.user} has the read role: it cannot act")
                return await handler(request, who)
            except Denied as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
        return endpoint

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def whoami(request: Request, who: Caller) -> Response:
        return JSONResponse({"user": who.grant.user, "role": who.grant.role.value, "title": title})

    async def snapshot(request: Request, who: Caller) -> Response:
        return JSONResponse(state.snapshot())

    async def stream(request: Request, who: Caller) -> Response:
        async def events():
            snap = state.snapshot()
            seen = snap["seq"]
            yield f"event: snapshot\ndata: {json.dumps(snap)}\n\n"
            quiet_since = time.monotonic()
            while not stopping.is_set():
                if await request.is_disconnected():
                    return
                updates = state.since(seen)
                if updates is None:  # fell behind the log: start again from a snapshot
                    snap = state.snapshot()
                    seen = snap["seq"]
                    yield f"event: snapshot\ndata: {json.dumps(snap)}\n\n"
                elif updates:
                    seen = updates[-1]["seq"]
                    yield f"event: update\ndata: {json.dumps(updates)}\n\n"
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > HEARTBEAT:
                    yield ": alive\n\n"
                    quiet_since = time.monotonic()
                await asyncio.sleep(PUSH_EVERY)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"cache-control": "no-store", "x-accel-buffering": "no"})

    async def order_audit(request: Request, who: Caller) -> Response:
        order_id = request.path_params["order_id"]
        rows = await run_in_threadpool(operations.audit, order_id)
        return JSONResponse({"order_id": order_id, "rows": rows}, status_code=200 if rows else 404)

    async def body(request: Request, *names: str) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            raise Denied(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Denied(400, "the body is not a JSON object")
        for name in names:
            if data.get(name) in (None, ""):
                raise Denied(400, f"{name}: missing")
        return data

    async def act(call: Callable[[], str]) -> Response:
        def locked() -> str:
            with actions_lock:
                return call()
        try:
            message = await run_in_threadpool(locked)
        except ActionRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True, "message": message})

    async def kill(request: Request, who: Caller) -> Response:
        data = await body(request, "scope", "reason")
        on = data.get("on", True)
        if not isinstance(on, bool):
            raise Denied(400, "on: true or false")
        return await act(lambda: operations.kill_switch(str(data["scope"]), on, who.grant.user, str(data["reason"])))

    async def set_trading_state(request: Request, who: Caller) -> Response:
        data = await body(request, "scope", "state", "reason")
        if str(data["state"]).upper() not in TRADING_STATES:
            raise Denied(400, f"state: {data['state']!r} is not one of {', '.join(TRADING_STATES)}")
        return await act(lambda: operations.trading_state(str(data["scope"]), str(data["state"]).upper(),
                                                          who.grant.user, str(data["reason"])))

    async def venue_breaker(request: Request, who: Caller) -> Response:
        data = await body(request, "venue", "mode", "reason")
        if str(data["mode"]).lower() not in BREAKER_MODES:
            raise Denied(400, f"mode: {data['mode']!r} is not one of {', '.join(BREAKER_MODES)}")
        return await act(lambda: operations.venue_breaker(str(data["venue"]), str(data["mode"]).lower(),
                                                          who.grant.user, str(data["reason"])))

    routes = [
        Route("/", page),
        Route("/api/whoami", guarded(whoami)),
        Route("/api/snapshot", guarded(snapshot)),
        Route("/api/stream", guarded(stream)),
        Route("/api/orders/{order_id:path}/audit", guarded(order_audit)),
        Route("/api/kill", guarded(kill, operate=True), methods=["POST"]),
        Route("/api/trading-state", guarded(set_trading_state, operate=True), methods=["POST"]),
        Route("/api/venue-breaker", guarded(venue_breaker, operate=True), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)
