"""The domain tests run with `oms.events.checking_built()`: every event the engine builds without
validation is also validated and compared, so a fast path that drifts fails here."""

import pytest

from oms.events import checking_built


@pytest.fixture(autouse=True)
def _built_events_are_checked():
    with checking_built():
        yield
