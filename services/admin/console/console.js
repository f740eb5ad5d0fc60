// Vestio admin console: one page over the platform's public APIs, through the gateway.
//
// Tokens live in this module's memory only (never in localStorage, cookies or URLs): a
// reload, signing out or IDLE_MS without input ends the session. The access token is
// refreshed REFRESH_AHEAD_S seconds before it expires. Everything a user sees from the
// APIs is put in the page as text (textContent), never as HTML.

const IDLE_MS = 15 * 60 * 1000;
const REFRESH_AHEAD_S = 60;
/** Minor units per major unit, by currency (ISO 4217 exponents). */
const EXPONENT = { NGN: 2, KES: 2, GHS: 2, ZAR: 2, USD: 2, EUR: 2, GBP: 2 };

const $ = (id) => document.getElementById(id);

// ---- the session -------------------------------------------------------------------

const session = {
  access: null,
  refresh: null,
  claims: null,
  email: null,
  refreshTimer: null,
  idleTimer: null,
  socket: null,
  liveRetry: null,
};

/** A problem+json answer, readable. */
class ApiProblem extends Error {
  constructor(status, problem) {
    const fields = (problem.errors || [])
      .map((e) => `${e.field}: ${e.message}`)
      .join("; ");
    const text = [problem.title || `HTTP ${status}`, problem.detail, fields]
      .filter(Boolean)
      .join(" — ");
    super(text);
    this.status = status;
    this.problem = problem;
  }
}

function claimsOf(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
}

/** Calls the API at `path`; answers the parsed JSON (or null), throws ApiProblem. */
async function api(method, path, { body, headers = {}, raw = false, retried = false } = {}) {
  const init = { method, headers: { ...headers }, credentials: "omit", cache: "no-store" };
  if (session.access) init.headers.Authorization = `Bearer ${session.access}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && session.refresh && !retried && !path.startsWith("/api/auth/")) {
    if (await refreshTokens()) return api(method, path, { body, headers, raw, retried: true });
  }
  if (!res.ok) {
    let problem = {};
    try {
      problem = await res.json();
    } catch {
      problem = { title: res.statusText };
    }
    throw new ApiProblem(res.status, problem);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

function adopt(tokens) {
  session.access = tokens.access_token;
  session.refresh = tokens.refresh_token;
  session.claims = claimsOf(tokens.access_token);
  clearTimeout(session.refreshTimer);
  const ms = Math.max(5, tokens.expires_in - REFRESH_AHEAD_S) * 1000;
  session.refreshTimer = setTimeout(refreshTokens, ms);
}

async function refreshTokens() {
  if (!session.refresh) return false;
  try {
    const tokens = await api("POST", "/api/auth/refresh", {
      body: { refresh_token: session.refresh },
    });
    adopt(tokens);
    return true;
  } catch (e) {
    forget();
    show("signin");
    say(`Your session ended (${e.message}). Sign in again.`, "error");
    return false;
  }
}

/** Drops everything the session held. */
function forget() {
  clearTimeout(session.refreshTimer);
  clearTimeout(session.idleTimer);
  clearTimeout(session.liveRetry);
  if (session.socket) {
    session.socket.onclose = null;
    session.socket.close();
  }
  Object.assign(session, { access: null, refresh: null, claims: null, email: null, socket: null });
  $("nav").hidden = true;
  $("who").hidden = true;
  setLive(false);
  for (const t of document.querySelectorAll("tbody")) t.replaceChildren();
  $("review-documents").replaceChildren();
}

async function signOut(reason) {
  if (session.access) {
    try {
      await api("POST", "/api/auth/logout");
    } catch {
      // The token is dropped here either way.
    }
  }
  forget();
  show("signin");
  say(reason || "Signed out.", "ok");
}

/** How long without input ends the session: IDLE_MS, or `data-idle-seconds` on <html>
 * (the browser test shortens it; a page can only make its own session shorter). */
function idleMs() {
  const seconds = Number(document.documentElement.dataset.idleSeconds);
  return seconds > 0 ? Math.min(seconds * 1000, IDLE_MS) : IDLE_MS;
}

function touch() {
  if (!session.access) return;
  clearTimeout(session.idleTimer);
  const ms = idleMs();
  const idle = ms >= 60000 ? `${Math.round(ms / 60000)} minutes` : `${Math.round(ms / 1000)} seconds`;
  session.idleTimer = setTimeout(() => signOut(`Signed out: no activity for ${idle}.`), ms);
}

async function signIn(event) {
  event.preventDefault();
  const body = { email: $("signin-email").value.trim(), password: $("signin-password").value };
  const code = $("signin-totp").value.trim();
  if (!$("signin-totp-row").hidden && code) body.totp_code = code;
  $("signin-submit").disabled = true;
  try {
    const tokens = await api("POST", "/api/auth/login", { body });
    const claims = claimsOf(tokens.access_token);
    if (claims.role !== "admin") {
      // Sign the session out at once: nothing of the console is for this account.
      session.access = tokens.access_token;
      await api("POST", "/api/auth/logout").catch(() => {});
      forget();
      say(`This console is for admins; ${body.email} is a ${claims.role} account.`, "error");
      return;
    }
    adopt(tokens);
    session.email = body.email;
    $("signin-password").value = "";
    $("signin-totp").value = "";
    $("signin-totp-row").hidden = true;
    $("who-email").textContent = body.email;
    $("nav").hidden = false;
    $("who").hidden = false;
    touch();
    say("");
    connectLive();
    await open("dashboard");
  } catch (e) {
    const wantsCode = e.status === 401 && (e.problem.errors || []).some((f) => f.field === "totp_code");
    if (wantsCode && !body.totp_code) {
      $("signin-totp-row").hidden = false;
      $("signin-totp").required = true;
      $("signin-totp").focus();
      say("Type the code from your authenticator app.", "");
    } else {
      say(e.message, "error");
    }
  } finally {
    $("signin-submit").disabled = false;
  }
}

// ---- page furniture ----------------------------------------------------------------

function say(text, kind = "") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function show(view) {
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== `view-${view}`;
  for (const b of document.querySelectorAll("nav button")) {
    b.classList.toggle("current", b.dataset.view === view);
  }
}

const views = {
  dashboard: loadDashboard,
  reviews: loadReviews,
  audit: () => searchAudit(false),
  users: () => searchUsers(false),
  security: loadSecurity,
};

async function open(view) {
  show(view);
  try {
    await views[view]();
  } catch (e) {
    say(e.message, "error");
  }
}

/** Asks before a change; answers true when confirmed. */
function confirmed(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "data") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ""));
  return node;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function waited(secs) {
  if (secs < 120) return `${secs} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  if (secs < 172800) return `${Math.round(secs / 3600)} h`;
  return `${Math.round(secs / 86400)} days`;
}

function money(minor, currency) {
  const exp = EXPONENT[currency] ?? 2;
  const n = BigInt(minor);
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const unit = 10n ** BigInt(exp);
  const whole = (abs / unit).toLocaleString("en");
  const frac = exp ? `.${(abs % unit).toString().padStart(exp, "0")}` : "";
  return `${neg ? "-" : ""}${currency} ${whole}${frac}`;
}

// ---- dashboard ---------------------------------------------------------------------

function card(title, figure, lines = []) {
  return el(
    "div",
    { class: "card" },
    el("h3", {}, title),
    el("div", { class: "figure" }, figure),
    el("ul", {}, ...lines.map((l) => el("li", {}, l))),
  );
}

function entries(map) {
  return Object.entries(map || {}).map(([k, v]) => `${k}: ${v}`);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars: [label, value] rows. */
function barChart(rows) {
  const height = 22 * rows.length + 10;
  const max = Math.max(1, ...rows.map(([, v]) => v));
  const chart = svg("svg", { viewBox: `0 0 400 ${height}`, role: "img" });
  rows.forEach(([label, value], i) => {
    const y = 5 + i * 22;
    chart.append(svg("text", { x: 0, y: y + 13 }, label));
    chart.append(svg("rect", { class: "bar", x: 120, y, height: 16, width: Math.max(1, (value / max) * 230) }));
    chart.append(svg("text", { x: 125 + (value / max) * 230, y: y + 13 }, value));
  });
  return chart;
}

/** Columns over time: points [{label, values:[a, b?]}]. */
function columnChart(points, legend) {
  const width = 400;
  const height = 160;
  const max = Math.max(1, ...points.flatMap((p) => p.values));
  const slot = (width - 20) / Math.max(1, points.length);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 30}`, role: "img" });
  chart.append(svg("line", { class: "axis", x1: 10, x2: width - 10, y1: height, y2: height }));
  points.forEach((p, i) => {
    p.values.forEach((v, j) => {
      const w = (slot - 2) / p.values.length;
      const h = (v / max) * (height - 10);
      const x = 10 + i * slot + j * w;
      const bar = svg("rect", { class: j ? "bar second" : "bar", x, y: height - h, width: Math.max(1, w - 1), height: h });
      bar.append(svg("title", {}, `${p.label}: ${legend[j]} ${p.titles ? p.titles[j] : v}`));
      chart.append(bar);
    });
    const last = i === points.length - 1;
    if (i === 0 || last || points.length <= 8) {
      const x = last && points.length > 8 ? 10 + (i + 1) * slot : 10 + i * slot;
      const anchor = last && points.length > 8 ? "end" : "start";
      chart.append(svg("text", { x, y: height + 14, "text-anchor": anchor }, p.label));
    }
  });
  legend.forEach((name, j) => {
    chart.append(svg("rect", { class: j ? "bar second" : "bar", x: 10 + j * 110, y: height + 20, width: 10, height: 10 }));
    chart.append(svg("text", { x: 24 + j * 110, y: height + 29 }, name));
  });
  return chart;
}

async function loadDashboard() {
  const d = await api("GET", "/api/admin/dashboard");
  $("dash-generated").textContent = when(d.generated_at);
  $("dash-generated").dateTime = d.generated_at;
  const users = Object.values(d.users_by_role || {}).reduce((a, b) => a + b, 0);
  const invoices = Object.values(d.invoices_by_status || {}).reduce((a, b) => a + b, 0);
  const cards = [
    card("Users", users, [...entries(d.users_by_role), `suspended: ${d.users_suspended}`]),
    card("KYC waiting", d.kyc.waiting, d.kyc.oldest_waiting_secs == null ? [] : [`oldest waits ${waited(d.kyc.oldest_waiting_secs)}`]),
    card("Invoices", invoices, entries(d.invoices_by_status)),
    card("Offers today", d.offers_today),
  ];
  for (const m of d.money || []) {
    cards.push(
      card(`Funded (${m.currency})`, money(m.funded_minor, m.currency), [
        `listed: ${money(m.listed_face_minor, m.currency)}`,
        `repaid: ${money(m.repaid_minor, m.currency)}`,
        `overdue: ${money(m.overdue_face_minor, m.currency)}`,
        `defaulted: ${money(m.defaulted_face_minor, m.currency)}`,
        `fee revenue: ${money(m.fee_revenue_minor, m.currency)}`,
      ]),
    );
  }
  $("dash-cards").replaceChildren(...cards);
  $("chart-invoices").replaceChildren(barChart(Object.entries(d.invoices_by_status || {})));

  const currency = (d.money && d.money[0] && d.money[0].currency) || "NGN";
  $("chart-money-currency").textContent = currency;
  const [funded, repaid, signups] = await Promise.all([
    api("GET", "/api/admin/metrics?metric=funded&bucket=week"),
    api("GET", "/api/admin/metrics?metric=repaid&bucket=week"),
    api("GET", "/api/admin/users/stats?period=day"),
  ]);
  const byStart = new Map();
  for (const [j, series] of [funded, repaid].entries()) {
    for (const p of series.points) {
      if (p.currency && p.currency !== currency) continue;
      const row = byStart.get(p.start) || { label: p.start.slice(5), values: [0, 0] };
      row.values[j] += p.value;
      byStart.set(p.start, row);
    }
  }
  const moneyPoints = [...byStart.entries()].sort().map(([, row]) => ({
    ...row,
    values: row.values.map((v) => Number(BigInt(v) / 10n ** BigInt(EXPONENT[currency] ?? 2))),
    titles: row.values.map((v) => money(v, currency)),
  }));
  $("chart-money").replaceChildren(columnChart(moneyPoints, ["funded", "repaid"]));
  const signupPoints = signups.buckets.map((b) => ({ label: b.start.slice(5), values: [b.signups] }));
  $("chart-signups").replaceChildren(columnChart(signupPoints, ["sign-ups"]));
}

// ---- review queue ------------------------------------------------------------------

let current = null; // the review open in the review view: {item, detail}

async function loadReviews() {
  const { items } = await api("GET", "/api/admin/reviews");
  $("review-count").textContent = items.length || "";
  const rows = items.map((r) =>
    el(
      "tr",
      { data: { id: r.id, kind: r.kind } },
      el("td", { title: r.waiting_since }, `${when(r.waiting_since)} (${waited(r.waiting_secs)})`),
      el("td", {}, r.kind === "kyc_submission" ? "KYC" : "Invoice"),
      el("td", {}, r.summary),
      el("td", {}, el("button", { type: "button", class: "open", onclick: () => openReview(r) }, "Open")),
    ),
  );
  $("reviews-table").querySelector("tbody").replaceChildren(...rows);
  $("reviews-empty").hidden = items.length > 0;
}

function field(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(el("dt", {}, name), el("dd", {}, typeof value === "object" ? JSON.stringify(value) : value));
}

async function openReview(item) {
  const view = item.actions.find((a) => a.name === "view");
  const detail = await api("GET", view.path);
  current = { item, detail };
  show("review");
  const kyc = item.kind === "kyc_submission";
  $("review-title").textContent = kyc ? `KYC submission of ${detail.full_name}` : `Invoice ${detail.invoice_number}`;
  const list = $("review-fields");
  list.replaceChildren();
  field(list, "Id", detail.id);
  field(list, "Status", detail.status);
  if (kyc) {
    field(list, "User", detail.user_id);
    field(list, "Role", detail.role);
    field(list, "Full name", detail.full_name);
    field(list, "BVN", detail.bvn);
    field(list, "NIN", detail.nin);
    for (const c of detail.checks || []) field(list, `Check: ${c.check}`, `${c.outcome} — ${c.detail}`);
    for (const w of detail.warnings || []) field(list, "Warning", w);
    field(list, "Submitted", when(detail.created_at));
  } else {
    field(list, "Seller", detail.seller_id);
    field(list, "Debtor", detail.debtor && detail.debtor.name);
    field(list, "Amount", `${detail.currency} ${detail.amount}`);
    field(list, "Issued", detail.issue_date);
    field(list, "Due", detail.due_date);
    field(list, "Description", detail.description);
  }
  const approve = item.actions.find((a) => a.name === "approve" || a.name === "verify");
  $("review-approve").textContent = approve && approve.name === "verify" ? "Verify" : "Approve";
  $("review-reason").value = "";
  await showDocuments(kyc ? detail.documents || [] : []);
}

/** Fetches each document with the bearer token and shows it through a blob: URL. */
async function showDocuments(documents) {
  const box = $("review-documents");
  for (const img of box.querySelectorAll("img, a[href^='blob:']")) {
    URL.revokeObjectURL(img.src || img.href);
  }
  box.replaceChildren();
  for (const d of documents) {
    const caption = el("figcaption", {}, `${d.document_type} · ${d.status} · ${d.content_type} · ${d.size_bytes} bytes`);
    const figure = el("figure", { class: "document", data: { type: d.document_type } }, caption);
    box.append(figure);
    try {
      const res = await api("GET", d.download_path, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      if (d.content_type.startsWith("image/")) {
        figure.prepend(el("img", { src: url, alt: d.document_type }));
      } else {
        figure.prepend(el("a", { href: url, download: `${d.document_type}.pdf` }, `Download ${d.document_type}`));
      }
    } catch (e) {
      figure.append(el("p", { class: "error" }, `Not shown: ${e.message}`));
    }
  }
}

async function decide(approve) {
  if (!current) return;
  const { item, detail } = current;
  const name = approve ? ["approve", "verify"] : ["reject"];
  const action = item.actions.find((a) => name.includes(a.name));
  const reason = $("review-reason").value.trim();
  if (!approve && !reason) {
    say("Give the reason for the rejection: the user reads it.", "error");
    $("review-reason").focus();
    return;
  }
  const what = item.kind === "kyc_submission" ? `the KYC submission of ${detail.full_name}` : `invoice ${detail.invoice_number}`;
  const question = approve ? `${action.name === "verify" ? "Verify" : "Approve"} ${what}?` : `Reject ${what} with the reason “${reason}”?`;
  if (!(await confirmed(question))) return;
  try {
    const done = await api(action.method, action.path, {
      body: approve ? undefined : { reason },
      headers: { "If-Match": `"${detail.version}"` },
    });
    say(`${what[0].toUpperCase()}${what.slice(1)} is now ${done.status}.`, "ok");
    current = null;
    await open("reviews");
  } catch (e) {
    say(e.message, "error");
  }
}

// ---- live updates ------------------------------------------------------------------

function setLive(on) {
  $("live").textContent = on ? "live" : "offline";
  $("live").classList.toggle("on", on);
}

let reloadSoon = null;
function queueChanged() {
  clearTimeout(reloadSoon);
  reloadSoon = setTimeout(() => {
    if (!session.access) return;
    if (!$("view-reviews").hidden) loadReviews().catch((e) => say(e.message, "error"));
    else api("GET", "/api/admin/reviews").then((r) => ($("review-count").textContent = r.items.length || "")).catch(() => {});
  }, 150);
}

async function connectLive() {
  if (!session.access) return;
  try {
    const { ticket } = await api("POST", "/api/notifications/ws-ticket");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/notifications/ws?ticket=${ticket}`);
    session.socket = socket;
    socket.onopen = () => {
      for (const channel of ["admin:kyc", "admin:events"]) socket.send(JSON.stringify({ type: "subscribe", channel }));
    };
    socket.onmessage = (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === "subscribed" && frame.channel === "admin:events") setLive(true);
      if (frame.type === "event" || frame.type === "resync") queueChanged();
    };
    socket.onclose = () => {
      setLive(false);
      session.socket = null;
      if (session.access) session.liveRetry = setTimeout(connectLive, 3000);
    };
  } catch {
    if (session.access) session.liveRetry = setTimeout(connectLive, 5000);
  }
}

// ---- audit -------------------------------------------------------------------------

let auditCursor = null;

function auditQuery() {
  const q = new URLSearchParams();
  const set = (name, value) => value && q.set(name, value);
  set("actor", $("audit-actor").value.trim());
  set("action", $("audit-action").value.trim());
  set("resource_type", $("audit-resource-type").value.trim());
  set("resource_id", $("audit-resource-id").value.trim());
  for (const name of ["from", "to"]) {
    const v = $(`audit-${name}`).value;
    if (v) q.set(name, new Date(v).toISOString());
  }
  return q;
}

/** A payload in a line (masked already by the admin service). */
function brief(payload) {
  const text = JSON.stringify(payload ?? {});
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

async function searchAudit(more) {
  const q = auditQuery();
  if (more && auditCursor) q.set("cursor", auditCursor);
  const page = await api("GET", `/api/admin/audit?${q}`);
  const rows = page.items.map((r) =>
    el(
      "tr",
      { data: { action: r.action } },
      el("td", {}, when(r.occurred_at)),
      el("td", {}, r.action),
      el("td", { class: "mono" }, `${r.actor_role} ${r.actor_id || ""}`),
      el("td", { class: "mono" }, `${r.resource_type} ${r.resource_id}`),
      el("td", { class: "mono" }, brief(r.payload)),
    ),
  );
  const body = $("audit-table").querySelector("tbody");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  auditCursor = page.next_cursor;
  $("audit-more").hidden = !auditCursor;
}

async function verifyChain() {
  const v = await api("GET", "/api/admin/audit/verify");
  const p = $("audit-verification");
  p.hidden = false;
  p.className = v.ok ? "ok" : "error";
  p.textContent = v.ok
    ? `The chain holds: ${v.rows} rows, every link verified.`
    : `The chain is broken at row ${v.first_bad.seq}: ${v.first_bad.reason} (${v.rows} rows).`;
}

// ---- users -------------------------------------------------------------------------

let usersCursor = null;

async function searchUsers(more) {
  const q = new URLSearchParams();
  for (const name of ["q", "role", "kyc", "status"]) {
    const v = $(`users-${name}`).value.trim();
    if (v) q.set(name, v);
  }
  if (more && usersCursor) q.set("cursor", usersCursor);
  const page = await api("GET", `/api/admin/users?${q}`);
  const rows = page.items.map(userRow);
  const body = $("users-table").querySelector("tbody");
  if (more) body.append(...rows);
  else body.replaceChildren(...rows);
  usersCursor = page.next_cursor;
  $("users-more").hidden = !usersCursor;
}

function userRow(u) {
  const suspended = u.status === "suspended";
  const act = el(
    "button",
    { type: "button", class: suspended ? "reactivate" : "suspend danger", onclick: () => suspend(u, !suspended) },
    suspended ? "Reactivate" : "Suspend",
  );
  return el(
    "tr",
    { data: { id: u.user_id } },
    el("td", {}, u.email || ""),
    el("td", {}, u.full_name || ""),
    el("td", {}, u.role || ""),
    el("td", { class: "kyc" }, u.kyc_status),
    el("td", { class: "status" }, u.status),
    el("td", {}, when(u.registered_at)),
    el("td", {}, u.role === "admin" ? "" : act),
  );
}

async function suspend(user, on) {
  const who = user.email || user.user_id;
  if (!(await confirmed(on ? `Suspend ${who}? Their sessions end now.` : `Reactivate ${who}?`))) return;
  try {
    const done = await api("POST", `/api/auth/users/${user.user_id}/${on ? "suspend" : "reactivate"}`);
    say(`${who} is now ${done.status}.`, "ok");
    // Auth's answer is the truth now; the search's read model follows by event.
    const row = $("users-table").querySelector(`tr[data-id="${user.user_id}"]`);
    if (row) row.replaceWith(userRow({ ...user, status: done.status }));
  } catch (e) {
    say(e.message, "error");
  }
}

// ---- second factor -----------------------------------------------------------------

async function loadSecurity() {
  const { enabled: on } = await api("GET", "/api/auth/totp");
  $("totp-state").textContent = on
    ? "A second factor is on: sign-in asks for a code from your authenticator app."
    : "No second factor yet: sign-in asks for your password only.";
  $("totp-start").hidden = on;
  $("totp-enrol").hidden = true;
}

async function startTotp() {
  const setup = await api("POST", "/api/auth/totp/setup");
  $("totp-secret").textContent = setup.secret;
  $("totp-uri").href = setup.otpauth_uri;
  $("totp-enrol").hidden = false;
  $("totp-code").focus();
}

async function confirmTotp(event) {
  event.preventDefault();
  try {
    await api("POST", "/api/auth/totp/confirm", { body: { code: $("totp-code").value.trim() } });
    $("totp-code").value = "";
    say("The second factor is on. Your next sign-in asks for a code.", "ok");
    await loadSecurity();
  } catch (e) {
    say(e.message, "error");
  }
}

// ---- wiring ------------------------------------------------------------------------

function guard(fn) {
  return (...args) => Promise.resolve(fn(...args)).catch((e) => say(e.message, "error"));
}

function start() {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", () => signOut());
  for (const b of document.querySelectorAll("nav button")) {
    b.addEventListener("click", () => open(b.dataset.view));
  }
  $("dash-reload").addEventListener("click", guard(loadDashboard));
  $("review-back").addEventListener("click", () => open("reviews"));
  $("review-approve").addEventListener("click", () => decide(true));
  $("review-reject").addEventListener("click", () => decide(false));
  $("audit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(searchAudit)(false);
  });
  $("audit-more").addEventListener("click", guard(() => searchAudit(true)));
  $("audit-verify").addEventListener("click", guard(verifyChain));
  $("users-form").addEventListener("submit", (e) => {
    e.preventDefault();
    guard(searchUsers)(false);
  });
  $("users-more").addEventListener("click", guard(() => searchUsers(true)));
  $("totp-start").addEventListener("click", guard(startTotp));
  $("totp-form").addEventListener("submit", confirmTotp);
  for (const kind of ["click", "keydown", "pointermove", "scroll"]) {
    document.addEventListener(kind, touch, { passive: true });
  }
  show("signin");
}

start();
