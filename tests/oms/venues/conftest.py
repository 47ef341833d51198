"""The venue tests run with `oms.events.checking_built()`: every execution report the simulated
exchange builds without validation (`oms.events.built`) is also validated and compared, so its
fast path cannot drift from the validated one."""

import pytest

from oms.events import checking_built


@pytest.fixture(autouse=True)
def _built_events_are_checked():
    with checking_built():
        yield
