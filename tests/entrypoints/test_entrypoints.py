"""The process entry points (`entrypoints.worker`, `.venue`, `.marketdata`, `.replay`): their option
parsing, the refusal of bad input before anything connects (exit status 2, the field named), and
the parsers they own (`parse_instruments`, `parse_until`)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import typer

from entrypoints import cli, marketdata, replay, venue, worker
from entrypoints.marketdata import parse_instruments
from entrypoints.replay import parse_until
from oms.commands import CommandError

T0 = 1_767_258_000_000_000_000  # 2026-01-01T09:00:00Z


@pytest.fixture(autouse=True)
def unreachable_cluster(monkeypatch):
    """Every refusal here happens before connecting: a connection attempt would fail the test."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")


def _params(app: typer.Typer, argv: list[str]) -> dict:
    command = typer.main.get_command(app)
    return command.make_context("test", argv).params


def test_parse_until_accepts_ns_and_iso_8601() -> None:
    assert parse_until(str(T0)) == T0
    assert parse_until("2026-01-01T09:00:00Z") == T0
    assert parse_until("2026-01-01T09:00:00") == T0
    assert parse_until("2026-01-01T10:00:00+01:00") == T0
    assert parse_until("2026-01-01T09:00:00.000000123Z") == T0 + 123
    assert parse_until("2026-01-01T09:00:00.5Z") == T0 + 500_000_000
    with pytest.raises(CommandError) as exc:
        parse_until("yesterday")
    assert exc.value.field == "--until"


def test_parse_instruments() -> None:
    assert parse_instruments("AAPL:187.00, MSFT:411.50") == {"AAPL": D("187.00"), "MSFT": D("411.50")}
    for bad in ("AAPL", "AAPL:x", "AAPL:-1", ""):
        with pytest.raises(ValueError, match="instruments"):
            parse_instruments(bad)


def test_venue_options() -> None:
    params = _params(venue.app, ["--venues", "SIM-A,SIM-B", "--seed", "7", "--reject-prob", "0.02",
                                 "--latency-ms", "1.5", "--no-create-topics", "-q"])
    assert (params["venues"], params["seed"], params["reject_prob"], params["latency_ms"]) == (
        "SIM-A,SIM-B", 7, 0.02, D("1.5"))
    assert params["rate_limit"] == venue.DEFAULT_RATE_LIMIT and params["burst"] is None
    assert params["no_create_topics"] and params["quiet"]


def test_marketdata_options() -> None:
    params = _params(marketdata.app, ["--synthetic", "--instruments", "AAPL:187.00", "--rate", "20",
                                      "--duration", "0.5", "--no-create-topics"])
    assert (params["synthetic"], params["instruments"], params["rate"], params["duration"]) == (
        True, "AAPL:187.00", 20.0, 0.5)
    assert params["csv"] is None
    params = _params(marketdata.app, ["--csv", "replay/data/sample_marketdata.csv"])
    assert str(params["csv"]) == "replay/data/sample_marketdata.csv" and not params["synthetic"]


def test_replay_options() -> None:
    params = _params(replay.app, ["--until", "2026-01-01T09:00:00Z", "--until-offset", "5", "--verify",
                                  "--store", "/tmp/x", "--order", "O1", "--no-progress"])
    assert (params["until"], params["until_offset"], params["verify"], str(params["store"]), params["order"],
            params["progress"]) == ("2026-01-01T09:00:00Z", 5, True, "/tmp/x", "O1", False)


REFUSALS = [
    (venue.main, ["--venues", " , "], "venues"),
    (venue.main, ["--venues", "SIM", "--reject-prob", "2"], "reject_probability"),
    (venue.main, ["--venues", "SIM", "--max-fill-fraction", "0"], "max_fill_fraction"),
    (venue.main, ["--venues", "SIM", "--rate-limit", "10", "--burst", "0"], "rate limit"),
    (marketdata.main, [], "source"),
    (marketdata.main, ["--synthetic", "--csv", "x.csv"], "source"),
    (marketdata.main, ["--synthetic", "--instruments", "AAPL"], "instruments"),
    (marketdata.main, ["--synthetic", "--rate", "0"], "rate"),
    (marketdata.main, ["--synthetic", "--tick", "cent"], "tick"),
    (worker.main, ["--route", "AAPL"], "route"),
    (worker.main, ["--loglevel", "loud"], "loglevel"),
    (replay.main, ["--until", "yesterday"], "--until"),
]


@pytest.mark.parametrize("main,argv,field", REFUSALS, ids=[f"{m.__module__}:{f}" for m, _, f in REFUSALS])
def test_bad_input_is_refused_before_connecting(main, argv, field, capsys) -> None:
    assert main(argv) == 2
    assert f"{field}" in capsys.readouterr().err


def test_replay_refuses_a_store_that_is_not_empty(tmp_path, capsys) -> None:
    (tmp_path / "something").write_text("x")
    assert replay.main(["--store", str(tmp_path)]) == 2
    assert "--store:" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys) -> None:
    assert venue.main([]) == 2
    assert "--venues" in capsys.readouterr().err
    assert venue.main(["--venues", "SIM", "--latency-ms", "fast"]) == 2
    assert "not a decimal" in capsys.readouterr().err


def test_every_process_is_an_oms_subcommand() -> None:
    group = typer.main.get_command(cli.app)
    for name in ("broker", "topics", "submit", "amend", "cancel", "tail", "risk", "kill", "worker", "venue",
                 "marketdata", "replay", "demo"):
        assert name in group.commands, name
    assert cli.main(["venue", "--venues", " "]) == 2
    assert cli.main(["marketdata", "--synthetic", "--instruments", "AAPL:x"]) == 2
