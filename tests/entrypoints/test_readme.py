"""The README's commands, run as written: every `oms ...` line of its shell blocks and its Python example.

The commands run in the README's order against the session's broker under a
unique topic prefix (`oms broker start|stop` on a broker of their own, in a
fresh `OMS_HOME`). Placeholders take the values the earlier commands printed
(`<client order id>` from `oms submit`, `<order id>` derived from it). The
long-running ones (`oms worker`, `oms venue`, `oms marketdata --synthetic`)
run as processes (`python -m entrypoints.cli ...`) and must stop cleanly on
SIGTERM; once the worker runs, a command is retried until it succeeds (the
worker catches up asynchronously), so `oms replay --verify` passing means the
journal folded back equals the live views.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from entrypoints.cli import main
from entrypoints.supervisor import Processes
from oms import ids
from oms.config import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def shell_commands() -> list[str]:
    """Every `oms ...` line of the README's shell blocks (comments kept, for messages)."""
    return [line.strip() for block in _blocks("sh") for line in block.splitlines() if line.startswith("oms ")]


def _args(line: str, values: dict[str, str]) -> list[str]:
    for placeholder, value in values.items():
        line = line.replace(placeholder, value)
    assert "<" not in line.split("#")[0], f"unfilled placeholder in {line!r}"
    return shlex.split(line, comments=True)[1:]


def _long_running(args: list[str]) -> bool:
    """The processes: the worker, a venue gateway (`oms venue` without an action), a synthetic feed."""
    return args[0] == "worker" or (args[0] == "venue" and (len(args) == 1 or args[1].startswith("-"))) or (
        args[0] == "marketdata" and "--synthetic" in args and "--duration" not in args)


def test_the_readme_shows_the_commands_this_module_runs() -> None:
    lines = shell_commands()
    names = {shlex.split(line, comments=True)[1] for line in lines}
    assert {"broker", "topics", "submit", "amend", "cancel", "tail", "marketdata", "venue", "worker", "risk",
            "kill", "replay"} <= names
    assert len(_blocks("python")) == 1
    first = _blocks("sh")[0].splitlines()
    assert [line.split("#")[0].strip() for line in first[:2]] == ["make demo", "make test"]


def test_make_test_checks_the_import_layers_then_runs_the_suite() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test: .*\n((?:\t.*\n)+)", makefile, re.M).group(1).split()
    assert recipe == ["$(BIN)/lint-imports", "--no-cache", "$(BIN)/pytest", "-q"]
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"


@pytest.mark.kafka
def test_broker_commands_run_as_written(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("OMS_HOME", str(tmp_path))
    broker_lines = [line for line in shell_commands() if shlex.split(line, comments=True)[1] == "broker"]
    assert [_args(line, {}) for line in broker_lines] == [["broker", "start"], ["broker", "stop"]]
    try:
        assert main(_args(broker_lines[0], {})) == 0
        assert "broker up at" in capsys.readouterr().out
        assert main(["broker", "status"]) == 0
        assert "running at" in capsys.readouterr().out
    finally:
        code = main(_args(broker_lines[1], {}))
    assert code == 0 and "broker stopped" in capsys.readouterr().out
    assert main(["broker", "status"]) == 1


@pytest.mark.kafka
def test_the_readme_commands_run_as_written(bootstrap_servers, unique_name, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.")
    monkeypatch.setenv("OMS_HOME", str(tmp_path))
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    monkeypatch.chdir(ROOT)  # the README's relative paths
    procs = Processes(Settings.from_env(), bootstrap_servers)
    values: dict[str, str] = {}
    ran: list[str] = []
    try:
        for line in shell_commands():
            args = _args(line, values)
            if args[0] == "broker":
                continue  # test_broker_commands_run_as_written
            if _long_running(args):
                procs.start(f"{args[0]}-{len(procs.procs)}", "entrypoints.cli", *args)
                ran.append(line)
                continue
            outcome: dict[str, object] = {}

            def succeeds() -> bool:
                capsys.readouterr()
                outcome["code"] = main(args)
                outcome["out"], outcome["err"] = capsys.readouterr()
                return outcome["code"] == 0

            if any(name.startswith("worker") for name in procs.procs):
                procs.wait_until(succeeds, timeout=90, what=line, poll=1)
            else:
                assert succeeds(), f"{line}: exit {outcome['code']}\n{outcome['out']}\n{outcome['err']}"
            ran.append(line)
            if args[0] == "submit":
                cl = re.search(r"published NewOrder (\S+) for account", str(outcome["out"])).group(1)
                values["<client order id>"] = cl
                values["<order id>"] = ids.order_id(args[args.index("--account") + 1], cl)
            if args[:2] == ["tail", "commands"]:
                assert "NewOrder" in str(outcome["out"]) and values["<client order id>"] in str(outcome["out"])
            if args[0] == "replay" and "--verify" in args:
                assert "replay verified: 1 orders" in str(outcome["out"])
            if args[0] == "replay" and "--order" in args:
                assert "OrderAccepted" in str(outcome["out"])

        exec(compile(_blocks("python")[0], "README.md", "exec"), {})
        capsys.readouterr()
        assert main(["tail", "commands", "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert any(line.get("client_order_id") == "c-1" and line.get("trader") == "alice" for line in lines)
    finally:
        codes = {name: procs.stop(name) for name in list(procs.procs)}
    assert ran == [line for line in shell_commands() if shlex.split(line, comments=True)[1] != "broker"]
    assert codes and all(code == 0 for code in codes.values()), {
        name: procs.log_tail(name) for name, code in codes.items() if code}


def test_the_readme_venue_limits_example_is_a_valid_setting() -> None:
    example = re.search(r"e\.g\. `(\{\"SIM\".*?)`", README, re.S).group(1)
    policy = Settings(venue_limits=" ".join(example.split())).venue_policies.venues["SIM"]
    assert policy.pools["orders"].per_second == 50 and policy.max_wait_ms == 2000
