"""`oms marketdata --csv` with the file loaders' options: bad options are refused before connecting."""

import pytest

from entrypoints import marketdata

REFUSALS = [
    (["--csv", "x.csv", "--time-format", "weird"], "time_format"),
    (["--csv", "x.csv", "--columns", "stamp=ts"], "columns"),
]


@pytest.mark.parametrize("argv,field", REFUSALS, ids=[f for _, f in REFUSALS])
def test_bad_file_options_are_refused_before_connecting(argv, field, capsys) -> None:
    assert marketdata.main(argv) == 2
    assert field in capsys.readouterr().err
