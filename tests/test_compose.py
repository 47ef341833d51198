"""docker-compose.yml names only OMS commands that exist in the package."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from oms.cli import build_parser, parse

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def _oms_services() -> dict[str, list[str]]:
    spec = yaml.safe_load(COMPOSE.read_text())
    return {
        name: service["command"]
        for name, service in spec["services"].items()
        if service.get("image", "").startswith("kafka-oms") or "build" in service
    }


def test_compose_has_broker_registry_and_oms_services():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "kafka" in services and "schema-registry" in services
    assert _oms_services(), "no OMS service in docker-compose.yml"


@pytest.mark.parametrize("name,command", sorted(_oms_services().items()))
def test_every_service_command_exists(name, command):
    parser = build_parser()
    args = parse(parser, [str(part) for part in command])
    assert callable(args.func), f"service {name}: {command} is not an oms command"
