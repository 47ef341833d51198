"""docker-compose.yml and the Dockerfile: the image runs `oms`, and every OMS service's command runs.

The services' commands are run for real, with their exact arguments, against
the session's broker under a unique topic prefix: the one-shot `topics`
service first, then the long-running services as processes (`python -m
entrypoints.cli <command>`, which is what the image's `oms` runs); an order
sent through them must come back as a fill, and every service must stop
cleanly on SIGTERM (as `docker compose stop` sends it).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from entrypoints.cli import main
from entrypoints.supervisor import Processes
from oms.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _oms_services() -> dict[str, dict]:
    spec = yaml.safe_load(COMPOSE.read_text())
    return {
        name: service
        for name, service in spec["services"].items()
        if service.get("image", "").startswith("kafka-oms") or "build" in service
    }


def test_compose_has_broker_registry_and_oms_services():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "kafka" in services and "schema-registry" in services
    assert {"topics", "worker", "venue", "marketdata", "oms-cli"} <= set(_oms_services())


def test_the_image_runs_the_oms_command_tree():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["oms"\]$', dockerfile, re.M)
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert {p.rstrip("*") for p in packages["include"]} <= copied
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["oms"] == "entrypoints.cli:main"


def _fills(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["tail", "fills", "--json", "--timeout", "5"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


@pytest.mark.kafka
def test_every_service_runs_with_its_compose_command(bootstrap_servers, unique_name, tmp_path, monkeypatch,
                                                     capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", bootstrap_servers)
    monkeypatch.setenv("OMS_TOPIC_PREFIX", f"{unique_name}.")
    monkeypatch.setenv("OMS_HOME", str(tmp_path))
    monkeypatch.delenv("SCHEMA_REGISTRY_URL", raising=False)
    services = _oms_services()
    # `topics` runs once at `up`; `oms-cli` only when asked (`docker compose run --rm oms-cli <command>`)
    one_shot = {name: s for name, s in services.items() if s.get("restart") == "no" or s.get("profiles")}
    assert list(one_shot) == ["topics", "oms-cli"]
    for name, service in one_shot.items():
        assert main([str(part) for part in service["command"]]) == 0, name

    procs = Processes(Settings.from_env(), bootstrap_servers)
    try:
        for name, service in services.items():
            if name not in one_shot:
                procs.start(name, "entrypoints.cli", *[str(part) for part in service["command"]])
        # the venue sees quotes only from when it is up: wait for its first market order to fill
        attempt = 0

        def filled() -> bool:
            nonlocal attempt
            attempt += 1
            code = main(["submit", "--account", "DOCK", "--instrument", "AAPL", "--side", "BUY", "--qty", "10",
                         "--cl-ord-id", f"dock-{attempt}"])
            assert code == 0
            return any(f["account"] == "DOCK" for f in _fills(capsys))

        procs.wait_until(filled, timeout=90, what="a market order to fill through the compose services", poll=1)
    finally:
        codes = {name: procs.stop(name) for name in list(procs.procs)}
    assert codes == {name: 0 for name in services if name not in one_shot}, {
        name: procs.log_tail(name) for name, code in codes.items() if code}
