// The blotter page: a snapshot and live updates over server-sent events, filters, audit trails, actions.
"use strict";
const S = { token: null, role: null, orders: new Map(), positions: new Map(), venues: new Map(),
            recent: {}, controls: { scopes: [], audit: [] }, source: null };
const RECENT_KINDS = ["denials", "rejects", "anomalies", "deadletters", "venue_controls", "alerts"];
const $ = (id) => document.getElementById(id);

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}
function nsIso(ns) { return ns ? new Date(Number(ns) / 1e6).toISOString().slice(0, 23) : ""; }
function row(cells) { const tr = document.createElement("tr"); cells.forEach((c) => tr.appendChild(c)); return tr; }
function fill(id, rows) { const body = $(id).querySelector("tbody"); body.replaceChildren(...rows); }
function toast(text) { const t = $("toast"); t.textContent = text; t.style.display = "block";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.style.display = "none"; }, 6000); }

async function api(path, options = {}) {
  const headers = { Authorization: "Bearer " + S.token, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const response = await fetch(path, { ...options, headers });
  let data = {};
  try { data = await response.json(); } catch (e) { /* an empty body */ }
  if (!response.ok) throw Object.assign(new Error(data.error || response.statusText), { status: response.status });
  return data;
}

// ------------------------------------------------------------------ rendering

function renderOrders() {
  const fa = $("f-account").value, fi = $("f-instrument").value, fs = $("f-status").value;
  const accounts = new Set(), instruments = new Set(), statuses = new Set();
  const rows = [];
  const orders = [...S.orders.values()].sort((a, b) => b.ts_event - a.ts_event);
  for (const o of orders) {
    accounts.add(o.account); instruments.add(o.instrument); statuses.add(o.status);
    if ((fa && o.account !== fa) || (fi && o.instrument !== fi) || (fs && o.status !== fs)) continue;
    const tr = row([cell(o.order_id, "id"), cell(o.client_order_id, "id"), cell(o.account), cell(o.instrument),
      cell(o.side), cell(o.order_type), cell(o.quantity, "num"), cell(o.limit_price, "num"),
      cell(o.status, "status-" + o.status), cell(o.cum_qty, "num"), cell(o.leaves_qty, "num"), cell(o.avg_px, "num"),
      cell(o.venue), cell(o.reason)]);
    tr.dataset.orderId = o.order_id;
    tr.addEventListener("click", () => showAudit(o.order_id));
    rows.push(tr);
  }
  fill("orders", rows);
  $("order-count").textContent = `(${rows.length} shown of ${S.orders.size})`;
  options("f-account", accounts); options("f-instrument", instruments); options("f-status", statuses);
}

function options(id, values) {
  const select = $(id), current = select.value;
  const have = new Set([...select.options].map((o) => o.value));
  [...values].sort().forEach((v) => { if (!have.has(v)) select.add(new Option(v, v)); });
  select.value = current;
}

function renderPositions() {
  fill("positions", [...S.positions.values()].sort((a, b) => (a.account + a.instrument).localeCompare(b.account + b.instrument))
    .map((p) => row([cell(p.account), cell(p.instrument), cell(p.quantity, "num"), cell(p.avg_price, "num"),
      cell(p.mark_price, "num"), cell(p.realized_pnl, "num"), cell(p.unrealized_pnl, "num"),
      cell(p.gross_exposure, "num"), cell(p.net_exposure, "num"), cell(p.fills, "num")])));
}

function renderControls() {
  fill("controls", S.controls.scopes.map((s) => row([cell(s.scope, "id"), cell(s.trading_state, "state-" + s.trading_state),
    cell(s.kill_switch ? "ON" : "off", "on-" + s.kill_switch),
    cell(s.limits.map((l) => `${l.name}=${l.value} (${l.source})`).join(", "))])));
  fill("control-audit", [...S.controls.audit].reverse().map((c) => row([cell(c.time), cell(c.scope, "id"), cell(c.kind),
    cell(c.name), cell(c.value), cell(c.changed_by), cell(c.reason)])));
}

function renderVenues() {
  fill("venues", [...S.venues.values()].sort((a, b) => a.venue.localeCompare(b.venue)).map((v) => {
    const override = document.createElement("td");
    override.className = "operate";
    for (const mode of ["open", "close", "auto"]) {
      const b = document.createElement("button");
      b.textContent = mode; b.dataset.venue = v.venue; b.dataset.mode = mode; b.disabled = S.role !== "operate";
      b.addEventListener("click", () => confirmAction(`Force the circuit breaker of venue ${v.venue} to ${mode.toUpperCase()}?`,
        "/api/venue-breaker", { venue: v.venue, mode }));
      override.appendChild(b);
    }
    return row([cell(v.venue), cell(v.connection), cell(v.breaker, "br-" + v.breaker), cell(nsIso(v.breaker_since)),
      cell(v.breaker_reason), cell(v.forced === "AUTO" ? "" : `${v.forced} by ${v.forced_by}`), cell(v.in_flight, "num"),
      cell(`${v.queued_cancel}/${v.queued_replace}/${v.queued_status}/${v.queued_new}`), cell(v.tokens),
      cell(nsIso(v.throttled_until)), cell(v.unanswered, "num"), override]);
  }));
}

function renderRecent() {
  const r = (kind) => [...(S.recent[kind] || [])].reverse();
  fill("denials", r("denials").map((e) => row([cell(e.time), cell(e.account), cell(e.order_id, "id"),
    cell(e.client_order_id, "id"), cell(e.reason_code), cell(e.reason)])));
  fill("rejects", r("rejects").map((e) => row([cell(e.time), cell(e.type), cell(e.account), cell(e.order_id, "id"),
    cell(e.reason)])));
  fill("anomalies", r("anomalies").map((e) => row([cell(e.time), cell(e.account), cell(e.order_id, "id"), cell(e.source),
    cell(e.reason_code), cell(e.reason)])));
  fill("deadletters", r("deadletters").map((e) => row([cell(e.time), cell(e.source_topic), cell(e.partition),
    cell(e.offset), cell(e.processor), cell(e.error)])));
  fill("venue-controls", r("venue_controls").map((e) => row([cell(e.time), cell(e.venue), cell(e.mode),
    cell(e.changed_by), cell(e.reason)])));
  fill("alerts", r("alerts").map((e) => row([cell(e.time), cell(e.venue), cell(e.account), cell(e.order_id, "id"),
    cell(e.request_id, "id"), cell(e.action), cell(e.reason)])));
}

const RENDER = { orders: renderOrders, positions: renderPositions, controls: renderControls, venues: renderVenues,
                 recent: renderRecent };
const dirty = new Set();
function schedule(part) {
  if (!dirty.size) requestAnimationFrame(() => { dirty.forEach((p) => RENDER[p]()); dirty.clear(); });
  dirty.add(part);
}

// --------------------------------------------------------------- live feed

function takeSnapshot(snap) {
  S.orders = new Map(snap.orders.map((o) => [o.key, o]));
  S.positions = new Map(snap.positions.map((p) => [p.key, p]));
  S.venues = new Map(snap.venues.map((v) => [v.key, v]));
  S.controls = snap.controls;
  RECENT_KINDS.forEach((k) => { S.recent[k] = snap[k] || []; });
  Object.keys(RENDER).forEach(schedule);
}

function applyUpdate(u) {
  const d = u.data;
  if (u.kind === "order") { S.orders.set(d.key, d); schedule("orders"); }
  else if (u.kind === "position") { S.positions.set(d.key, d); schedule("positions"); }
  else if (u.kind === "venue") { S.venues.set(d.key, d); schedule("venues"); }
  else if (u.kind === "controls") { S.controls = d; schedule("controls"); }
  else if (RECENT_KINDS.includes(u.kind)) {
    const list = (S.recent[u.kind] = S.recent[u.kind] || []);
    list.push(d); if (list.length > 200) list.shift();
    schedule("recent");
  }
}

function connect() {
  if (S.source) S.source.close();
  const source = new EventSource("/api/stream?token=" + encodeURIComponent(S.token));
  S.source = source;
  source.addEventListener("snapshot", (ev) => { takeSnapshot(JSON.parse(ev.data)); live(true); });
  source.addEventListener("update", (ev) => { JSON.parse(ev.data).forEach(applyUpdate); live(true); });
  source.onerror = () => live(false);
}
function live(on) { const b = $("live"); b.textContent = on ? "live" : "reconnecting"; b.className = "badge " + (on ? "on" : "off"); }

// ------------------------------------------------------------- audit trail

async function showAudit(orderId) {
  $("audit-section").hidden = false;
  $("audit-order").textContent = orderId;
  fill("audit", [row([cell("loading…")])]);
  try {
    const data = await api("/api/orders/" + encodeURIComponent(orderId) + "/audit");
    fill("audit", data.rows.map((r) => row(Object.values(r).map((v, i) => cell(v, i === 7 ? "id" : "")))));
  } catch (e) {
    fill("audit", [row([cell(e.message, "error")])]);
  }
}

// ----------------------------------------------------------------- actions

let pending = null;
function confirmAction(text, path, body) {
  if (S.role !== "operate") { toast("read-only access: you cannot act"); return; }
  pending = { path, body };
  $("confirm-text").textContent = text;
  $("confirm-reason").value = "";
  $("confirm-error").textContent = "";
  $("confirm").showModal();
}

async function confirmed(event) {
  event.preventDefault();
  const reason = $("confirm-reason").value.trim();
  if (!reason) { $("confirm-error").textContent = "say why: it is kept in the audit trail"; return; }
  try {
    const data = await api(pending.path, { method: "POST", body: JSON.stringify({ ...pending.body, reason }) });
    $("confirm").close();
    toast(data.message || "done");
  } catch (e) {
    $("confirm-error").textContent = `${e.status || ""} ${e.message}`;
  }
}

function wireActions() {
  const scope = () => $("act-scope").value.trim() || "*";
  $("kill-on").addEventListener("click", () => confirmAction(`Engage the kill switch for ${scope() === "*" ? "EVERY account" : scope()}? New orders are denied and open orders canceled.`, "/api/kill", { scope: scope(), on: true }));
  $("kill-off").addEventListener("click", () => confirmAction(`Release the kill switch for ${scope()}?`, "/api/kill", { scope: scope(), on: false }));
  $("set-state").addEventListener("click", () => confirmAction(`Set the trading state of ${scope()} to ${$("act-state").value}?`, "/api/trading-state", { scope: scope(), state: $("act-state").value }));
  $("confirm-ok").addEventListener("click", confirmed);
  $("audit-close").addEventListener("click", () => { $("audit-section").hidden = true; });
  ["f-account", "f-instrument", "f-status"].forEach((id) => $(id).addEventListener("change", renderOrders));
}

// -------------------------------------------------------------------- start

async function open(token) {
  S.token = token;
  try {
    const me = await api("/api/whoami");
    S.role = me.role;
    sessionStorage.setItem("oms-blotter-token", token);
    $("who").textContent = `${me.user} (${me.role})`;
    $("title").textContent = me.title;
    document.body.classList.toggle("read-only", me.role !== "operate");
    document.querySelectorAll(".operate button, .operate select").forEach((b) => { b.disabled = me.role !== "operate"; });
    $("login").hidden = true; $("main").hidden = false;
    connect();
  } catch (e) {
    sessionStorage.removeItem("oms-blotter-token");
    $("login").hidden = false; $("main").hidden = true;
    $("login-error").textContent = e.message;
  }
}

wireActions();
$("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); open($("token-input").value.trim()); });
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) history.replaceState(null, "", location.pathname);
const saved = fromHash || sessionStorage.getItem("oms-blotter-token");
if (saved) open(saved); else $("login").hidden = false;
