"""The web blotter in a real browser (Debian's chromium driven by Playwright) on a running OMS.

A worker, the simulated venue and market data run as processes on the
session's broker (`tests.pipeline.Pipeline`); the blotter follows them in this
process. Orders sent during a test appear on the page live; the kill switch
engaged from the page is written with who and why, and the next order is
denied on the page; a read-only token sees everything but cannot act.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from entrypoints.blotter import start_blotter
from oms import ids
from oms.access import Grant, Role
from oms.clock import LiveClock
from tests.pipeline import Pipeline

pytestmark = pytest.mark.kafka

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OPERATOR, VIEWER = "op-token-1234", "view-token-5678"
GRANTS = {OPERATOR: Grant("alice", Role.OPERATE), VIEWER: Grant("bob", Role.READ)}
WAIT_MS = 20_000

if CHROMIUM is None:
    pytest.skip("no chromium on this machine (make test installs it: apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def oms(bootstrap_servers, tmp_path_factory):
    prefix = f"tb{int(time.time() * 1000) % 10**9}."
    pipeline = Pipeline.start(bootstrap_servers, prefix, tmp_path_factory.mktemp("blotter"))
    settings = pipeline.rt.settings
    server = start_blotter(settings, LiveClock(), port=0, grants=GRANTS)
    try:
        yield pipeline, server
    finally:
        server.stop()
        pipeline.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


def open_page(browser, server, token: str):
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server.url}#token={token}")
    sync_api.expect(page.locator("#live")).to_have_text("live")
    return page


def test_orders_sent_during_the_test_appear_live_with_their_audit_trail(oms, browser):
    pipeline, server = oms
    page = open_page(browser, server, VIEWER)
    long_client_id = "blotter-live-order-with-a-long-client-order-id-0001"
    order_id = ids.order_id("ACC-WEB-1", long_client_id)

    pipeline.client.new_order(account="ACC-WEB-1", client_order_id=long_client_id, instrument="AAPL", side="BUY",
                              quantity="5", limit_price="1.00")
    pipeline.client.flush()

    row = page.locator("#orders tbody tr", has=page.locator("td", has_text=long_client_id))
    sync_api.expect(row).to_have_count(1)
    sync_api.expect(row.locator("td").nth(0)).to_have_text(order_id)  # whole, never cut short
    sync_api.expect(row.locator("td").nth(8)).to_have_text("NEW")
    page.select_option("#f-account", "ACC-WEB-1")
    sync_api.expect(page.locator("#orders tbody tr")).to_have_count(1)

    row.click()
    sync_api.expect(page.locator("#audit-order")).to_have_text(order_id)
    sync_api.expect(page.locator("#audit tbody")).to_contain_text("OrderAccepted")
    sync_api.expect(page.locator("#audit tbody")).to_contain_text("OrderRouted")
    page.close()


def test_the_kill_switch_from_the_page_denies_new_orders_and_is_audited(oms, browser):
    pipeline, server = oms
    page = open_page(browser, server, OPERATOR)
    page.fill("#act-scope", "ACC-WEB-2")
    page.click("#kill-on")
    page.fill("#confirm-reason", "runaway algo")
    page.click("#confirm-ok")

    scope_row = page.locator("#controls tbody tr", has=page.locator("td", has_text="ACC-WEB-2"))
    sync_api.expect(scope_row.locator("td").nth(2)).to_have_text("ON")
    audit = page.locator("#control-audit tbody tr", has=page.locator("td", has_text="ACC-WEB-2")).first
    sync_api.expect(audit).to_contain_text("alice")
    sync_api.expect(audit).to_contain_text("runaway algo")

    pipeline.client.new_order(account="ACC-WEB-2", client_order_id="after-kill", instrument="AAPL", side="BUY",
                              quantity="5", limit_price="1.00")
    pipeline.client.flush()
    denial = page.locator("#denials tbody tr", has=page.locator("td", has_text="after-kill"))
    sync_api.expect(denial).to_have_count(1)
    sync_api.expect(denial).to_contain_text("KILL")
    order = page.locator("#orders tbody tr", has=page.locator("td", has_text="after-kill"))
    sync_api.expect(order.locator("td").nth(8)).to_have_text("REJECTED")
    page.close()


def test_a_read_only_token_sees_everything_and_cannot_act(oms, browser):
    pipeline, server = oms
    page = open_page(browser, server, VIEWER)
    sync_api.expect(page.locator("#who")).to_have_text("bob (read)")
    sync_api.expect(page.locator("#kill-on")).to_be_hidden()
    assert page.locator("#kill-on").is_disabled()

    answer = page.evaluate("""async (token) => {
        const r = await fetch('/api/kill', {method: 'POST', headers: {Authorization: 'Bearer ' + token,
            'Content-Type': 'application/json'}, body: JSON.stringify({scope: 'ACC-WEB-3', on: true, reason: 'x'})});
        return {status: r.status, body: await r.json()};
    }""", VIEWER)

    assert answer["status"] == 403, json.dumps(answer)
    time.sleep(1.0)
    scopes = [s["scope"] for s in server.state.snapshot()["controls"]["scopes"]]
    assert "ACC-WEB-3" not in scopes
    page.close()
