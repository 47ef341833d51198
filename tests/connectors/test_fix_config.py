"""A FIX venue's configuration file as `oms venue --fix CONFIG` reads it: the defaults the entry point
supplies (`data_dir` under `$OMS_HOME/fix/<venue>`, `cache_dir`), what the file says winning over
them, and a bad file refused with a clear error before anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.fix.config import FixVenueConfig
from entrypoints import venue as venue_entry
from oms.commands import CommandError
from oms.config import Settings

BASE = 'venue = "FIX-A"\nsender_comp_id = "OMS"\ntarget_comp_id = "EXCH"\nport = 9878\n'


def test_data_dir_and_cache_dir_default_when_the_file_sets_neither(tmp_path: Path):
    path = tmp_path / "a.toml"
    path.write_text(BASE)
    config = FixVenueConfig.load(path, data_root=tmp_path / "home" / "fix", cache_dir=tmp_path / "cache")
    assert (config.venue, config.data_dir, config.cache_dir) == ("FIX-A", tmp_path / "home" / "fix" / "FIX-A",
                                                                 tmp_path / "cache")


def test_what_the_file_sets_wins_over_the_defaults(tmp_path: Path):
    path = tmp_path / "a.toml"
    path.write_text(BASE + f'data_dir = "{tmp_path / "mine"}"\ndata_dictionary = "{tmp_path / "FIX44.xml"}"\n')
    config = FixVenueConfig.load(path, data_root=tmp_path / "home", cache_dir=tmp_path / "cache")
    assert (config.data_dir, config.cache_dir, config.data_dictionary) == (
        tmp_path / "mine", None, tmp_path / "FIX44.xml")


def test_the_entry_point_defaults_come_from_the_settings(tmp_path: Path):
    path = tmp_path / "a.json"
    path.write_text('{"venue": "FIX-B", "sender_comp_id": "OMS", "target_comp_id": "EXCH", "port": 9000}')
    settings = Settings(home=tmp_path / "home", cache_dir=tmp_path / "cache")
    [config] = venue_entry.fix_venue_configs(settings, [path])
    assert (config.data_dir, config.cache_dir) == (tmp_path / "home" / "fix" / "FIX-B", tmp_path / "cache")


@pytest.mark.parametrize("text, message", [
    (BASE.replace("port = 9878\n", ""), "port"),
    (BASE + "colour = 1\n", "colour"),
    ("not toml at all [", "a.toml"),
])
def test_a_bad_file_is_a_usage_error_naming_the_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "a.toml"
    path.write_text(text)
    with pytest.raises(CommandError) as caught:
        venue_entry.fix_venue_configs(Settings(home=tmp_path), [path])
    assert message in str(caught.value)


def test_a_missing_file_is_a_usage_error(tmp_path: Path):
    with pytest.raises(CommandError) as caught:
        venue_entry.fix_venue_configs(Settings(home=tmp_path), [tmp_path / "nowhere.toml"])
    assert "nowhere.toml" in str(caught.value)
