"""Tests of the worker instance setting (`Settings.worker_instance`, `OMS_WORKER_INSTANCE`, `worker --instance`).

This module owns the evidence that a worker's instance name defaults to "0",
is read from the environment, and refuses a name that cannot be part of a
transactional id, a static member id and a directory name.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from oms.config import Settings


def test_the_instance_defaults_to_0_and_is_read_from_the_environment(monkeypatch):
    assert Settings().worker_instance == "0"
    monkeypatch.setenv("OMS_WORKER_INSTANCE", "east-2")
    assert Settings.from_env().worker_instance == "east-2"
    assert Settings().with_(worker_instance="1").worker_instance == "1"


@pytest.mark.parametrize("name", ["", "a b", "../x", "x/y", "é", "x" * 41])
def test_an_instance_name_that_is_not_a_plain_word_is_refused(name):
    with pytest.raises(ValidationError):
        Settings(worker_instance=name)
