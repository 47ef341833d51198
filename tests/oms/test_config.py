"""`oms.config.Settings`: the environment names, empty-as-unset, frozen values, and no implicit reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from oms.config import Settings

ENV = ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "OMS_TOPIC_PREFIX", "OMS_HOME", "OMS_CACHE_DIR",
       "OMS_PARTITIONS")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_from_env_reads_every_variable(clean_env, tmp_path) -> None:
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    clean_env.setenv("SCHEMA_REGISTRY_URL", "http://registry:8081")
    clean_env.setenv("OMS_TOPIC_PREFIX", "desk1.")
    clean_env.setenv("OMS_HOME", str(tmp_path / "home"))
    clean_env.setenv("OMS_CACHE_DIR", str(tmp_path / "cache"))
    clean_env.setenv("OMS_PARTITIONS", "6")
    assert Settings.from_env() == Settings(
        bootstrap_servers="k1:9092,k2:9092", schema_registry_url="http://registry:8081", topic_prefix="desk1.",
        home=tmp_path / "home", cache_dir=tmp_path / "cache", partitions=6,
    )


def test_defaults_and_empty_variables(clean_env) -> None:
    clean_env.setenv("KAFKA_BOOTSTRAP_SERVERS", "")
    clean_env.setenv("OMS_TOPIC_PREFIX", "")
    settings = Settings.from_env()
    assert settings.bootstrap_servers is None and settings.schema_registry_url is None
    assert settings.topic_prefix == "oms."
    assert settings.partitions == 3
    assert settings.home == Path(".oms").absolute() and settings.home.is_absolute()


def test_keyword_construction_never_reads_the_environment(clean_env) -> None:
    clean_env.setenv("OMS_TOPIC_PREFIX", "from-env.")
    clean_env.setenv("OMS_PARTITIONS", "9")
    settings = Settings(topic_prefix="given.")
    assert (settings.topic_prefix, settings.partitions) == ("given.", 3)


def test_frozen_and_with_validates(clean_env) -> None:
    settings = Settings(home=Path("relative"))
    assert settings.home.is_absolute()
    with pytest.raises(ValidationError):
        settings.topic_prefix = "x."  # type: ignore[misc]
    changed = settings.with_(topic_prefix="x.", home=Path("other"))
    assert (changed.topic_prefix, changed.home, changed.partitions) == ("x.", Path("other").absolute(), 3)
    assert settings.topic_prefix == "oms."
    with pytest.raises(ValidationError):
        settings.with_(partitions=0)


def test_a_bad_variable_is_named(clean_env) -> None:
    clean_env.setenv("OMS_PARTITIONS", "many")
    with pytest.raises(ValidationError, match="OMS_PARTITIONS"):
        Settings.from_env()


def test_smart_routing_settings_are_checked_when_they_are_read():
    settings = Settings(routing="account:ACC-1=cost,default=best", venue_fees="SIM-A=taker:0.003,maker:-0.002")
    assert settings.routing and settings.venue_fees
    assert Settings().routing == "" and Settings().venue_fees == ""
    with pytest.raises(ValidationError, match="routing"):
        Settings(routing="account:ACC-1=fastest")
    with pytest.raises(ValidationError, match="venue_fees"):
        Settings(venue_fees="SIM-A=taker")
