"""The blotter without a broker: access tokens, the state it folds, the HTTP API's access rules and
actions, and the CLI's audit trail table at 80 columns (ids whole, never "…")."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from starlette.testclient import TestClient

from entrypoints.replay import _audit
from entrypoints.web.app import ActionRefused, create_app
from entrypoints.web.state import BlotterState
from oms.access import Grant, Role, parse_tokens
from oms.config import Settings
from oms.domain.risk import DEFAULT_LIMITS
from oms.events import ControlKind
from streams.kafka import Received
from streams.topics import Topics
from tests import builders

TOPICS = Topics("oms.")
GRANTS = {"op-token": Grant("alice", Role.OPERATE), "ro-token": Grant("bob", Role.READ)}


def received(topic: str, event, key: str | None = None, offset: int = 0) -> Received:
    return Received(TOPICS.name(topic), 0, offset, key, 0, event)


# ------------------------------------------------------------------ tokens


def test_tokens_parse_into_users_and_roles():
    grants = parse_tokens("s3cret:alice:operate, v1ew:bob:READ")

    assert grants == {"s3cret": Grant("alice", Role.OPERATE), "v1ew": Grant("bob", Role.READ)}
    assert grants["s3cret"].may_operate and not grants["v1ew"].may_operate


@pytest.mark.parametrize("spec, message", [
    ("s3cret:alice", "not token:user:role"),
    ("s3cret:alice:admin", "is not read or operate"),
    ("abc:alice:read", "shorter than 4"),
    ("s3cret:al ice:read", "not a valid user name"),
    ("s3cret:alice:read,s3cret:bob:read", "given twice"),
])
def test_a_bad_token_list_is_refused_naming_the_entry(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_tokens(spec)


def test_settings_take_the_tokens_and_refuse_bad_ones():
    assert Settings(blotter_tokens="s3cret:alice:operate").blotter_grants["s3cret"].user == "alice"
    with pytest.raises(ValueError, match="read or operate"):
        Settings(blotter_tokens="s3cret:alice:root")


# ------------------------------------------------------------------- state


def test_the_state_keeps_the_latest_views_and_the_recent_problems_with_a_change_log():
    state = BlotterState(TOPICS, dict(DEFAULT_LIMITS))
    view = builders.order_view()
    state.apply(received("orders", view, key=view.order_id))
    state.apply(received("orders", view.model_copy(update={"cum_qty": view.quantity}), key=view.order_id))
    state.apply(received("positions", builders.position(), key="ACC-001|AAPL"))
    state.apply(received("order.events", builders.order_denied()))
    state.apply(received("order.events", builders.order_accepted()))  # not a problem: not listed
    state.apply(received("deadletter", builders.dead_letter()))

    snap = state.snapshot()

    assert [o["order_id"] for o in snap["orders"]] == [view.order_id]
    assert snap["orders"][0]["cum_qty"] == f"{view.quantity}"  # exact decimal text
    assert snap["positions"][0]["key"] == "ACC-001|AAPL"
    assert [d["type"] for d in snap["denials"]] == ["OrderDenied"]
    assert "value" not in snap["deadletters"][0] and snap["deadletters"][0]["offset"] == 1234
    assert snap["seq"] == 5
    assert [u["kind"] for u in state.since(2)] == ["position", "denials", "deadletters"]
    json.dumps(snap)  # every value is JSON


def test_controls_fold_like_the_engine_with_their_audit_trail():
    state = BlotterState(TOPICS, dict(DEFAULT_LIMITS))
    kill = builders.risk_control(scope="ACC-9", kind=ControlKind.KILL_SWITCH, name="kill_switch", value="on",
                                 changed_by="alice", reason="runaway")

    state.apply(received("risk.controls", kill))

    controls = state.snapshot()["controls"]
    scope = next(s for s in controls["scopes"] if s["scope"] == "ACC-9")
    assert scope["kill_switch"] is True
    assert (controls["audit"][-1]["changed_by"], controls["audit"][-1]["reason"]) == ("alice", "runaway")
    assert state.since(0)[-1]["kind"] == "controls"


def test_a_reader_too_far_behind_the_log_is_told_to_take_a_snapshot(monkeypatch):
    from entrypoints.web import state as state_module

    state = BlotterState(TOPICS, dict(DEFAULT_LIMITS))
    state._log = state_module.deque(maxlen=2)
    for n in range(4):
        state.apply(received("order.events", builders.order_denied(event_id=f"d-{n}")))

    assert state.since(0) is None
    assert [u["seq"] for u in state.since(2)] == [3, 4]
    assert state.since(4) == []


# --------------------------------------------------------------------- API


class RecordingOperations:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def kill_switch(self, scope, on, user, reason):
        if scope == "bad scope":
            raise ActionRefused("scope: not an account")
        self.calls.append(("kill", scope, on, user, reason))
        return f"KILL_SWITCH kill_switch={'on' if on else 'off'} set for {scope} by {user}"

    def trading_state(self, scope, state, user, reason):
        self.calls.append(("state", scope, state, user, reason))
        return "ok"

    def venue_breaker(self, venue, mode, user, reason):
        self.calls.append(("breaker", venue, mode, user, reason))
        return "ok"

    def audit(self, order_id):
        return [{"type": "OrderAccepted"}] if order_id == "o/1" else []


@pytest.fixture
def api():
    operations = RecordingOperations()
    client = TestClient(create_app(BlotterState(TOPICS, dict(DEFAULT_LIMITS)), GRANTS, operations))
    return client, operations


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_every_api_call_needs_a_known_token(api):
    client, _ = api
    assert client.get("/api/snapshot").status_code == 401
    assert client.get("/api/snapshot", headers=auth("nope")).status_code == 401
    assert client.get("/api/whoami", headers=auth("ro-token")).json()["role"] == "read"
    assert client.get("/api/snapshot?token=ro-token").json()["seq"] == 0
    assert client.get("/").status_code == 200  # the page itself asks for the token


def test_a_read_token_cannot_act_and_an_operator_acts_as_itself(api):
    client, operations = api
    body = {"scope": "ACC-1", "on": True, "reason": "runaway algo"}

    refused = client.post("/api/kill", json=body, headers=auth("ro-token"))
    done = client.post("/api/kill", json=body, headers=auth("op-token"))

    assert refused.status_code == 403
    assert done.status_code == 200 and done.json()["ok"]
    assert operations.calls == [("kill", "ACC-1", True, "alice", "runaway algo")]


@pytest.mark.parametrize("path, body, message", [
    ("/api/kill", {"scope": "ACC-1", "on": True}, "reason: missing"),
    ("/api/kill", {"scope": "bad scope", "on": True, "reason": "r"}, "scope: not an account"),
    ("/api/trading-state", {"scope": "*", "state": "SLEEPY", "reason": "r"}, "is not one of"),
    ("/api/venue-breaker", {"venue": "SIM", "mode": "ajar", "reason": "r"}, "is not one of"),
])
def test_bad_action_input_is_refused_with_the_field_and_nothing_is_written(api, path, body, message):
    client, operations = api

    answer = client.post(path, json=body, headers=auth("op-token"))

    assert answer.status_code == 400 and message in answer.json()["error"]
    assert operations.calls == []


def test_trading_states_and_breakers_go_through_the_operations(api):
    client, operations = api
    client.post("/api/trading-state", json={"scope": "*", "state": "halted", "reason": "r"}, headers=auth("op-token"))
    client.post("/api/venue-breaker", json={"venue": "SIM", "mode": "OPEN", "reason": "r"}, headers=auth("op-token"))

    assert operations.calls == [("state", "*", "HALTED", "alice", "r"), ("breaker", "SIM", "open", "alice", "r")]


def test_an_order_audit_trail_is_served_and_an_unknown_order_is_404(api):
    client, _ = api
    assert client.get("/api/orders/o/1/audit", headers=auth("ro-token")).json()["rows"] == [{"type": "OrderAccepted"}]
    assert client.get("/api/orders/none/audit", headers=auth("ro-token")).status_code == 404


# ----------------------------------------------------- CLI tables, 80 columns


def column_text(output: str, column: int) -> str:
    """The text of one column of a rich table, its lines joined (a folded id comes back whole)."""
    parts = []
    for line in output.splitlines():
        cells = re.split(r"[│┃]", line)
        if len(cells) > column + 1:
            parts.append(cells[column + 1].strip())
    return "".join(parts)


def test_replay_order_audit_trail_at_80_columns_shows_ids_whole():
    client_order_id = "a-client-order-id-far-longer-than-a-column-of-an-80-col-terminal"
    order_id = builders.order_accepted().order_id
    trail = [
        Received(TOPICS.journal, 2, 17, "ACC-001", 0, builders.order_accepted(client_order_id=client_order_id)),
        Received(TOPICS.journal, 2, 18, "ACC-001", 0, builders.order_denied(
            client_order_id=client_order_id, reason="a long reason " * 4)),
    ]
    out = io.StringIO()
    console = Console(file=out, width=80, no_color=True)

    code = _audit(console, type("Runtime", (), {"topics": TOPICS})(), trail, order_id)

    text = out.getvalue()
    assert code == 0
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert f"client_order_id={client_order_id}" in column_text(text, 7)
    assert order_id in "".join(text.split())  # the title wraps, the id stays whole
