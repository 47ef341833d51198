"""The FIX <-> OMS mapping without a session: requests to tags, reports and cancel rejects to
`ExecutionReport`s, venue dialects from the configuration, and clear errors on bad input."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.fix.config import FixVenueConfig
from connectors.fix.mapping import (
    SOH,
    FixMappingError,
    OrderRef,
    mass_status_request,
    parse_fields,
    request_message,
    to_report,
    transact_time,
)
from oms.events import (
    CancelRejectReason,
    ExecType,
    OrderRejectReason,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueAction,
)
from tests.builders import ACCOUNT, INSTRUMENT, ORDER_ID, VENUE, venue_request

NOW = 1_767_323_096_123_456_789  # 2026-01-02 03:04:56.123 UTC


def config(**overrides) -> FixVenueConfig:
    return FixVenueConfig(**{
        "venue": VENUE, "sender_comp_id": "OMS", "target_comp_id": "EXCH", "port": 9876,
        "data_dir": Path("/tmp/unused"), **overrides,
    })


def refs_of(*requests):
    table = {OrderRef.of(r).cl_ord_id: OrderRef.of(r) for r in requests}
    return table.get


def fix(**tags) -> dict[int, str]:
    """Tags given as t<number>=value."""
    return {int(k[1:]): v for k, v in tags.items()}


# ------------------------------------------------------------------ outgoing


def test_new_order_single_carries_the_order_terms_in_fix_codes():
    msg_type, fields = request_message(venue_request(), config(), NOW)

    assert msg_type == "D"
    assert fields == [
        (11, "req-0001"), (1, ACCOUNT), (21, "1"), (55, INSTRUMENT), (54, "1"),
        (60, "20260102-03:04:56.123"), (38, "100"), (40, "2"), (44, "187.25"), (59, "0"),
    ]


def test_replace_cancel_and_status_name_the_order_by_its_clordid():
    replace = venue_request(action=VenueAction.REPLACE, request_id="req-2", orig_request_id="req-1",
                            quantity=D("150"), limit_price=D("187.5"), time_in_force=TimeInForce.GTC)
    cancel = venue_request(action=VenueAction.CANCEL, request_id="req-3", orig_request_id="req-2")
    status = venue_request(action=VenueAction.STATUS, request_id="st-1", orig_request_id="req-2",
                           side=Side.SELL)

    g_type, g = request_message(replace, config(), NOW)
    f_type, f = request_message(cancel, config(), NOW)
    h_type, h = request_message(status, config(), NOW)

    assert (g_type, g[:2], dict(g)[38], dict(g)[44], dict(g)[59]) == ("G", [(41, "req-1"), (11, "req-2")], "150",
                                                                       "187.5", "1")
    assert (f_type, f[:2]) == ("F", [(41, "req-2"), (11, "req-3")])
    assert 44 not in dict(f)
    assert h_type == "H"
    assert dict(h) == {11: "req-2", 790: "st-1", 1: ACCOUNT, 55: INSTRUMENT, 54: "2"}


def test_market_order_has_no_price_and_ioc_fok_codes():
    _, fields = request_message(
        venue_request(order_type=OrderType.MARKET, limit_price=None, time_in_force=TimeInForce.IOC), config(), NOW)
    _, fok = request_message(venue_request(time_in_force=TimeInForce.FOK), config(), NOW)

    assert dict(fields)[40] == "1" and 44 not in dict(fields) and dict(fields)[59] == "3"
    assert dict(fok)[59] == "4"


def test_venue_dialect_account_tag_symbols_handlinst_and_extra_tags():
    dialect = config(account_tag=440, accounts={ACCOUNT: "CLEAR-7"}, symbols={INSTRUMENT: "AAPL.O"},
                     handl_inst=None, extra_tags={"D": {100: "XNAS", 207: "US"}})

    _, fields = request_message(venue_request(), dialect, NOW)

    tags = dict(fields)
    assert tags[440] == "CLEAR-7" and 1 not in tags
    assert tags[55] == "AAPL.O"
    assert 21 not in tags
    assert fields[-2:] == [(100, "XNAS"), (207, "US")]


def test_replace_without_orig_clordid_is_refused():
    with pytest.raises(FixMappingError, match="orig_request_id"):
        request_message(venue_request(action=VenueAction.CANCEL, orig_request_id=None), config(), NOW)


def test_mass_status_asks_for_every_working_order():
    assert mass_status_request("MS-1", config()) == ("AF", [(584, "MS-1"), (585, "7")])


def test_config_refuses_unknown_message_types_and_many_to_one_symbols():
    with pytest.raises(ValidationError, match="extra_tags"):
        config(extra_tags={"Z": {1: "x"}})
    with pytest.raises(ValidationError, match="one to one"):
        config(symbols={"A": "X", "B": "X"})


def test_transact_time_is_utc_with_milliseconds():
    assert transact_time(0) == "19700101-00:00:00.000"
    assert transact_time(NOW) == "20260102-03:04:56.123"


# ------------------------------------------------------------------ incoming


def test_parse_fields_reads_every_tag_first_occurrence_wins():
    raw = SOH.join(["8=FIX.4.4", "9=20", "35=8", "43=Y", "17=E1", "17=E2", "10=000"]) + SOH

    assert parse_fields(raw) == {8: "FIX.4.4", 9: "20", 35: "8", 43: "Y", 17: "E1", 10: "000"}


def test_partial_fill_names_the_oms_order_from_the_clordid_map():
    new = venue_request()
    fields = fix(t35="8", t37="V-1", t11="req-0001", t17="E-7", t150="F", t39="1", t55=INSTRUMENT, t54="1",
                 t38="100", t44="187.25", t32="40", t31="187.24", t14="40", t151="60", t6="187.24", t1="whatever")

    report = to_report(fields, VENUE, config(), refs_of(new), NOW)

    assert report.exec_type is ExecType.PARTIAL_FILL and report.order_status is OrderStatus.PARTIALLY_FILLED
    assert (report.account, report.order_id, report.request_id) == (ACCOUNT, ORDER_ID, "req-0001")
    assert (report.last_qty, report.last_px, report.cum_qty, report.leaves_qty) == (D(40), D("187.24"), D(40), D(60))
    assert report.exec_id == "E-7" and report.event_id == f"{VENUE}:E-7"
    assert report.venue_order_id == "V-1" and report.limit_price == D("187.25")
    assert report.ts_event == report.ts_init == NOW


def test_trade_that_completes_the_order_is_a_fill():
    fields = fix(t35="8", t37="V-1", t11="req-0001", t17="E-8", t150="F", t39="2", t55=INSTRUMENT, t54="1",
                 t38="100", t32="60", t31="187", t14="100", t151="0", t6="187.1")

    assert to_report(fields, VENUE, config(), refs_of(venue_request()), NOW).exec_type is ExecType.FILL


def test_cancel_ack_and_replace_name_their_own_request():
    new = venue_request()
    repl = venue_request(action=VenueAction.REPLACE, request_id="req-2", orig_request_id="req-0001")
    replaced = fix(t35="8", t37="V-1", t11="req-2", t41="req-0001", t17="E-2", t150="5", t39="0", t55=INSTRUMENT,
                   t54="1", t38="150", t14="0", t151="150", t6="0")

    report = to_report(replaced, VENUE, config(), refs_of(new, repl), NOW)

    assert (report.exec_type, report.request_id, report.order_qty) == (ExecType.REPLACED, "req-2", D(150))


def test_reject_carries_the_ord_rej_reason_and_text():
    fields = fix(t35="8", t37="NONE", t11="req-0001", t17="E-3", t150="8", t39="8", t55=INSTRUMENT, t54="1",
                 t38="100", t14="0", t151="0", t6="0", t103="1", t58="unknown symbol AAPL")

    report = to_report(fields, VENUE, config(), refs_of(venue_request()), NOW)

    assert report.exec_type is ExecType.REJECTED and report.ord_rej_reason is OrderRejectReason.UNKNOWN_SYMBOL
    assert report.reason == "unknown symbol AAPL" and report.venue_order_id is None


def test_order_status_answer_names_the_status_request():
    new = venue_request()
    status = venue_request(action=VenueAction.STATUS, request_id="st-9", orig_request_id="req-0001")
    fields = fix(t35="8", t37="V-1", t11="req-0001", t790="st-9", t17="E-4", t150="I", t39="1", t55=INSTRUMENT,
                 t54="1", t38="100", t14="40", t151="60", t6="187.24")

    report = to_report(fields, VENUE, config(), refs_of(new, status), NOW)

    assert (report.exec_type, report.request_id, report.order_id) == (ExecType.ORDER_STATUS, "st-9", ORDER_ID)


def test_cancel_reject_becomes_a_cancel_rejected_report_with_a_stable_exec_id():
    cancel = venue_request(action=VenueAction.CANCEL, request_id="req-3", orig_request_id="req-0001")
    fields = fix(t35="9", t37="NONE", t11="req-3", t41="req-0001", t39="8", t434="1", t102="1",
                 t58="unknown order req-0001")

    first = to_report(fields, VENUE, config(), refs_of(cancel), NOW)
    again = to_report({**fields, 43: "Y"}, VENUE, config(), refs_of(cancel), NOW + 5)

    assert first.exec_type is ExecType.CANCEL_REJECTED and first.order_status is OrderStatus.REJECTED
    assert first.cxl_rej_reason is CancelRejectReason.UNKNOWN_ORDER
    assert (first.order_id, first.request_id, first.instrument) == (ORDER_ID, "req-3", INSTRUMENT)
    assert first.exec_id == again.exec_id == "CXLREJ-req-3"


def test_report_for_an_order_never_sent_names_the_clordid_and_fix_account():
    dialect = config(accounts={ACCOUNT: "CLEAR-7"}, symbols={INSTRUMENT: "AAPL.O"})
    fields = fix(t35="8", t37="V-9", t11="phone-1", t17="E-5", t150="0", t39="0", t55="AAPL.O", t54="2",
                 t38="10", t14="0", t151="10", t6="0", t1="CLEAR-7")

    report = to_report(fields, VENUE, dialect, refs_of(), NOW)

    assert (report.account, report.order_id, report.request_id) == (ACCOUNT, "phone-1", "phone-1")
    assert (report.instrument, report.side, report.order_qty) == (INSTRUMENT, Side.SELL, D(10))


def test_pending_acks_and_an_empty_mass_status_answer_map_to_nothing():
    pending = fix(t35="8", t37="V-1", t11="req-0001", t17="E-6", t150="6", t39="6", t55=INSTRUMENT, t54="1",
                  t14="0", t151="100", t6="0")
    empty = fix(t35="8", t37="NONE", t11="NONE", t17="E-7", t150="I", t39="8", t55="NONE", t54="1", t14="0",
                t151="0", t6="0", t584="MS-1", t911="0", t912="Y")

    assert to_report(pending, VENUE, config(), refs_of(venue_request()), NOW) is None
    assert to_report(empty, VENUE, config(), refs_of(), NOW) is None


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ({150: "Q"}, "150"),
        ({39: "Z"}, "39"),
        ({32: "lots"}, "32"),
        ({14: "-1"}, "14"),
        ({17: ""}, "17"),
    ],
)
def test_values_the_oms_cannot_represent_raise_naming_the_tag(tags, message):
    fields = {**fix(t35="8", t37="V-1", t11="req-0001", t17="E-1", t150="F", t39="1", t55=INSTRUMENT, t54="1",
                    t32="1", t31="1", t14="1", t151="99", t6="1"), **tags}

    with pytest.raises(FixMappingError, match=message):
        to_report(fields, VENUE, config(), refs_of(venue_request()), NOW)


def test_foreign_ids_that_are_not_identifiers_are_digested():
    fields = fix(t35="8", t37="order id with spaces", t11="req-0001", t17="exec id/with spaces", t150="0", t39="0",
                 t55=INSTRUMENT, t54="1", t14="0", t151="100", t6="0")

    report = to_report(fields, VENUE, config(), refs_of(venue_request()), NOW)

    assert report.exec_id.startswith("X") and report.venue_order_id.startswith("X")
    assert report.exec_id == to_report(fields, VENUE, config(), refs_of(venue_request()), NOW).exec_id


def test_business_message_reject_rejects_the_request_it_names():
    new = venue_request()
    cancel = venue_request(action=VenueAction.CANCEL, request_id="req-3", orig_request_id="req-0001")
    status = venue_request(action=VenueAction.STATUS, request_id="st-1", orig_request_id="req-0001")

    def bmr(ref_id):
        return fix(t35="j", t45="7", t372="D", t379=ref_id, t380="3", t58="unsupported")

    rejected = to_report(bmr("req-0001"), VENUE, config(), refs_of(new, cancel, status), NOW)
    cancel_rejected = to_report(bmr("req-3"), VENUE, config(), refs_of(new, cancel, status), NOW)

    assert (rejected.exec_type, rejected.order_status, rejected.order_id) == (
        ExecType.REJECTED, OrderStatus.REJECTED, ORDER_ID)
    assert rejected.exec_id == "BMR-req-0001" and rejected.reason == "unsupported"
    assert (cancel_rejected.exec_type, cancel_rejected.request_id) == (ExecType.CANCEL_REJECTED, "req-3")
    assert to_report(bmr("st-1"), VENUE, config(), refs_of(status), NOW) is None
    assert to_report(bmr("never-sent"), VENUE, config(), refs_of(), NOW) is None


def test_config_loads_from_toml_with_overrides(tmp_path):
    path = tmp_path / "venue.toml"
    path.write_text('venue = "LSE"\nsender_comp_id = "OMS"\ntarget_comp_id = "LSEG"\nport = 9000\n'
                    'data_dir = "/var/fix/lse"\naccount_tag = 440\n[symbols]\nVOD = "VOD.L"\n'
                    '[extra_tags.D]\n100 = "XLON"\n')

    loaded = FixVenueConfig.load(path, port=9001)

    assert (loaded.venue, loaded.port, loaded.account_tag) == ("LSE", 9001, 440)
    assert loaded.venue_symbol("VOD") == "VOD.L" and loaded.instrument("VOD.L") == "VOD"
    assert loaded.extra_tags == {"D": {100: "XLON"}}
    with pytest.raises(ValueError, match="toml or .json"):
        FixVenueConfig.load(tmp_path / "venue.yaml")


def test_utc_timestamps_parse_back_to_nanoseconds():
    from connectors.fix.mapping import parse_utc_timestamp

    assert parse_utc_timestamp(transact_time(NOW)) == NOW // 1_000_000 * 1_000_000
    assert parse_utc_timestamp("20260102-03:04:56") == NOW // 1_000_000_000 * 1_000_000_000
    assert parse_utc_timestamp("20260102-03:04:56.123456") == NOW // 1_000 * 1_000
    with pytest.raises(FixMappingError, match="UTCTimestamp"):
        parse_utc_timestamp("yesterday")
