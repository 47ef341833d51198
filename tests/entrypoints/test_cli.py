"""The `oms` command tree (`entrypoints.cli`): refusal of bad input naming the field (exit status 2,
nothing published), and order entry, tail, topics and risk controls on a real broker."""

from __future__ import annotations

import json

import pytest

from entrypoints.cli import main
from oms.config import Settings
from streams.kafka import read_all
from streams.runtime import connect

GOOD = ["--account", "ACC1", "--instrument", "AAPL", "--side", "BUY", "--qty", "100", "--price", "187.25"]


def _replace(args: list[str], flag: str, value: str | None) -> list[str]:
    out = list(args)
    i = out.index(flag)
    if value is None:
        del out[i:i + 2]
    else:
        out[i + 1] = value
    return out


BAD_SUBMITS = [
    (_replace(GOOD, "--qty", "0"), "quantity"),
    (_replace(GOOD, "--qty", "-5"), "quantity"),
    (_replace(GOOD, "--price", "abc"), "limit_price"),
    (_replace(GOOD, "--side", "SIDEWAYS"), "side"),
    (GOOD + ["--type", "MARKET"], "limit_price"),
    (_replace(GOOD, "--price", None) + ["--type", "LIMIT"], "limit_price"),
    (_replace(GOOD, "--account", "A" * 5000), "account"),
    (_replace(GOOD, "--instrument", "X" * 300), "instrument"),
    (GOOD + ["--tif", "FOREVER"], "time_in_force"),
    (_replace(GOOD, "--price", "NaN"), "limit_price"),
]


@pytest.fixture
def cli_env(monkeypatch, bootstrap_servers, unique_name):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.")
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    settings = Settings.from_env()
    rt = connect(settings)
    rt.ensure_topics()
    return rt


def _commands(rt) -> list:
    consumer = rt.event_consumer(f"{rt.topics.prefix}check", "test", deadletter=False)
    try:
        return read_all(consumer, [rt.topics.commands], timeout=5)
    finally:
        consumer.close()


@pytest.mark.parametrize("args,field", BAD_SUBMITS, ids=[f for _, f in BAD_SUBMITS])
def test_invalid_submit_is_refused_naming_the_field(args, field, capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # never reached: refused before connecting
    code = main(["submit", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{field}:" in err


def test_missing_account_is_a_usage_error(capsys):
    assert main(["submit", *_replace(GOOD, "--account", None)]) == 2
    assert "--account" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["submit", *GOOD, "--colour", "red"]) == 2
    assert "--colour" in capsys.readouterr().err


def test_bad_environment_is_refused_naming_the_variable(capsys, monkeypatch):
    monkeypatch.setenv("OMS_PARTITIONS", "many")
    assert main(["submit", *GOOD]) == 2
    assert "OMS_PARTITIONS:" in capsys.readouterr().err


def test_amend_without_change_is_refused(capsys):
    code = main(["amend", "--account", "ACC1", "--orig", "c-1"])
    assert code == 2
    assert "quantity:" in capsys.readouterr().err


@pytest.mark.kafka
def test_refused_commands_publish_nothing(cli_env, capsys):
    for args, _ in BAD_SUBMITS[:4]:
        assert main(["submit", *args]) == 2
    assert _commands(cli_env) == []


@pytest.mark.kafka
def test_submit_amend_cancel_then_tail_shows_decoded_commands(cli_env, capsys):
    assert main(["submit", *GOOD, "--cl-ord-id", "c-1", "--tif", "GTC"]) == 0
    assert main(["amend", "--account", "ACC1", "--cl-ord-id", "c-2", "--orig", "c-1", "--qty", "150"]) == 0
    assert main(["cancel", "--account", "ACC1", "--cl-ord-id", "c-3", "--orig", "c-1"]) == 0
    capsys.readouterr()

    assert main(["tail", "commands", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    assert [line["type"] for line in lines] == ["NewOrder", "AmendOrder", "CancelOrder"]
    new = lines[0]
    assert (new["account"], new["client_order_id"], new["side"], new["time_in_force"]) == ("ACC1", "c-1", "BUY", "GTC")
    assert new["quantity"] == "100" or float(new["quantity"]) == 100
    assert all(line["key"] == "ACC1" for line in lines)

    assert main(["tail", "commands"]) == 0
    table = capsys.readouterr().out
    assert "NewOrder" in table and "c-1" in table


@pytest.mark.kafka
def test_topics_create_is_idempotent(cli_env, capsys):
    assert main(["topics", "create"]) == 0
    out = capsys.readouterr().out
    assert "exists" in out and "created" not in out
    assert main(["topics", "describe"]) == 0
    assert "compact" in capsys.readouterr().out


def test_risk_set_refuses_an_unknown_limit_or_bad_value(capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # refused before connecting
    assert main(["risk", "set", "ACC1", "LIMIT", "max_order_qty", "lots"]) == 2
    assert "not a decimal" in capsys.readouterr().err
    assert main(["risk", "set", "ACC1", "LIMIT", "max_banana", "5"]) == 2
    assert "unknown limit" in capsys.readouterr().err
    assert main(["risk", "set", "ACC1", "TRADING_STATE", "state", "SLEEPY"]) == 2
    assert main(["risk", "set", "ACC1"]) == 2


@pytest.mark.kafka
def test_risk_set_show_and_kill_keep_an_audit_trail(cli_env, capsys):
    assert main(["risk", "set", "ACC1", "LIMIT", "max_order_qty", "500", "--by", "alice", "--reason", "desk"]) == 0
    assert main(["risk", "set", "*", "TRADING_STATE", "state", "REDUCING", "--by", "bob"]) == 0
    assert main(["kill", "ACC2", "--by", "carol"]) == 0
    capsys.readouterr()
    assert main(["risk", "show"]) == 0
    out = capsys.readouterr().out
    for expected in ("max_order_qty", "500", "alice", "REDUCING", "bob", "KILL_SWITCH", "carol"):
        assert expected in out


def test_tail_refuses_an_unknown_topic(capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # naming the topic needs no broker
    assert main(["tail", "no-such-topic"]) == 2
    assert "topic: 'no-such-topic' is not an OMS topic" in capsys.readouterr().err


def test_the_environment_is_read_once_per_command_line(capsys, monkeypatch):
    from oms.config import Settings as S

    calls = []
    real = S.from_env.__func__

    def counting(cls):
        calls.append(cls)
        return real(cls)

    monkeypatch.setattr(S, "from_env", classmethod(counting))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    assert main(["-v", "submit", *_replace(GOOD, "--qty", "0")]) == 2
    assert len(calls) == 1
    assert main(["--help"]) == 0
    assert "submit" in capsys.readouterr().out and len(calls) == 1  # help reads nothing


def test_status_needs_an_order_or_all_and_session_roll_a_valid_day(capsys, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")  # refused before connecting
    assert main(["status", "--account", "ACC-1"]) == 2
    assert "order: name one client order id, or give --all" in capsys.readouterr().err
    assert main(["status", "c1", "--all", "--account", "ACC-1"]) == 2
    assert main(["session", "roll", "tomorrow", "--account", "ACC-1"]) == 2
    assert "trading_day" in capsys.readouterr().err
