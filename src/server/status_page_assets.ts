/**
 * The status page's inline style and script, kept apart from the HTML so the page's
 * Content-Security-Policy can allow exactly these two by hash. Plain browser JavaScript: no
 * build step, no library, nothing loaded from elsewhere.
 *
 * @module
 */

/** The page's CSS. */
export const STATUS_PAGE_STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --line: #8884;
  --muted: #6e7781; --card: #8881; font: 14px/1.45 system-ui, sans-serif; }
body { margin: 0; }
header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; padding: .8rem 1.5rem;
  border-bottom: 1px solid var(--line); }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: 1rem; margin: 1.2rem 0 .6rem; }
main { padding: 0 1.5rem 1.5rem; }
a { color: inherit; }
.muted { color: var(--muted); font-weight: normal; }
.error { color: var(--bad); }
.tiles { display: flex; gap: .8rem; flex-wrap: wrap; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .9rem;
  min-width: 9rem; display: flex; flex-direction: column; }
.tile.wide { flex: 1; }
.label { color: var(--muted); font-size: .8rem; }
.big { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.small { font-size: .9rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); gap: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem .9rem; }
.card h3 { margin: 0; font-size: 1rem; display: flex; justify-content: space-between; gap: .5rem; }
.vendor { color: var(--muted); font-weight: normal; font-size: .85rem; }
.state { font-size: .75rem; font-weight: 600; padding: .1rem .45rem; border-radius: 1rem; color: #fff;
  background: var(--warn); white-space: nowrap; }
.state.READY { background: var(--ok); }
.state.BACKOFF, .state.STOPPED { background: var(--bad); }
.rate { display: flex; align-items: center; gap: .6rem; margin: .5rem 0; }
.rate canvas { flex: 1; height: 44px; width: 100%; border-bottom: 1px solid var(--line); }
.rate .value { font-variant-numeric: tabular-nums; min-width: 5.5rem; text-align: right; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .8rem; margin: 0; font-size: .85rem; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; font-variant-numeric: tabular-nums; }
form { max-width: 28rem; margin-top: 1.5rem; }
input { font: inherit; padding: .35rem .5rem; width: 16rem; }
button { font: inherit; padding: .35rem .8rem; }
`;

/** The page's script: polls the data endpoint once a second and redraws. */
export const STATUS_PAGE_SCRIPT = `
"use strict";
const DATA = "/status.json";
const POLL_MS = 1000;
const HISTORY = 60; // samples kept per source for the chart (one a poll)
const RATE_WINDOW = 5; // samples the shown events/s is averaged over
const $ = (id) => document.getElementById(id);
const samples = new Map(); // source -> [{ t, events }]
const cards = new Map(); // source -> elements
let key = sessionStorage.getItem("relay-status-key") || "";
let timer;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function ago(isoTime, now) {
  if (!isoTime) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(isoTime)) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

function rateOf(list) {
  const recent = list.slice(-RATE_WINDOW - 1);
  if (recent.length < 2) return 0;
  const a = recent[0], b = recent[recent.length - 1];
  return (b.events - a.events) / Math.max(0.001, (b.t - a.t) / 1000);
}

function card(name) {
  let c = cards.get(name);
  if (c) return c;
  const root = el("article", "card");
  root.dataset.source = name;
  const h = el("h3");
  const title = el("span");
  const nameEl = el("span", "name", name);
  const vendor = el("span", "vendor");
  title.append(nameEl, " ", vendor);
  const state = el("span", "state");
  h.append(title, state);
  const rate = el("div", "rate");
  const canvas = el("canvas");
  canvas.setAttribute("aria-label", "events per second, last minute");
  const value = el("span", "value");
  rate.append(canvas, value);
  const dl = el("dl");
  const field = (label) => {
    const dd = el("dd");
    dl.append(el("dt", "", label), dd);
    return dd;
  };
  c = {
    root, vendor, state, canvas, value,
    holder: null,
    fields: {
      events: field("events"),
      lastEvent: field("last event"),
      interest: field("upstream interest"),
      subscribers: field("subscribers"),
      reconnects: field("reconnects"),
      dropped: field("frames dropped"),
      lastError: field("last error"),
    },
  };
  root.append(h, rate, dl);
  $("sources").append(root);
  cards.set(name, c);
  return c;
}

function draw(canvas, list) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== w * ratio) { canvas.width = w * ratio; canvas.height = h * ratio; }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  // Each point is the rate over the RATE_WINDOW samples before it, like the shown value:
  // at a few events a second, per-poll rates would only jump between 0 and 1.
  const rates = [];
  for (let i = 1; i < list.length; i++) rates.push(rateOf(list.slice(0, i + 1)));
  const max = Math.max(1, ...rates);
  const step = w / (HISTORY - 1);
  const x0 = w - (rates.length - 1) * step;
  g.beginPath();
  g.moveTo(x0, h);
  rates.forEach((r, i) => g.lineTo(x0 + i * step, h - 2 - (r / max) * (h - 6)));
  g.lineTo(x0 + (rates.length - 1) * step, h);
  g.closePath();
  g.fillStyle = "#2f81f766";
  g.fill();
  g.beginPath();
  rates.forEach((r, i) => {
    const x = x0 + i * step, y = h - 2 - (r / max) * (h - 6);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.strokeStyle = "#2f81f7";
  g.lineWidth = 1.5;
  g.stroke();
  g.fillStyle = "#6e7781";
  g.font = "10px system-ui, sans-serif";
  g.fillText("max " + max.toFixed(1) + "/s", 2, 10);
}

function render(data) {
  const now = Date.parse(data.now);
  $("meta").textContent = "relay " + data.version + (data.node ? " · node " + data.node : "") + " · updated " + new Date(now).toLocaleTimeString();
  $("source-count").textContent = "(" + data.sources.length + ")";
  const seen = new Set();
  for (const s of data.sources) {
    seen.add(s.name);
    const list = samples.get(s.name) || [];
    list.push({ t: now, events: s.eventsReceived });
    while (list.length > HISTORY) list.shift();
    samples.set(s.name, list);
    const c = card(s.name);
    const rate = rateOf(list);
    c.root.dataset.state = s.state;
    c.root.dataset.events = String(s.eventsReceived);
    c.root.dataset.rate = rate.toFixed(3);
    c.vendor.textContent = s.vendor;
    c.state.textContent = s.state;
    c.state.className = "state " + s.state;
    c.state.title = "since " + new Date(Date.parse(s.stateSince)).toLocaleString();
    c.value.textContent = rate.toFixed(2) + " ev/s";
    if (s.holder !== undefined && !c.holder) {
      c.holder = el("dd");
      c.fields.events.parentNode.prepend(el("dt", "", "holder"), c.holder);
    }
    if (c.holder) {
      c.holder.textContent = s.holder === null ? "none (lease free)" : s.holder + (s.holder === data.node ? " (this node)" : "");
    }
    const f = c.fields;
    f.events.textContent = s.eventsReceived.toLocaleString();
    f.lastEvent.textContent = ago(s.lastEventAt, now);
    f.interest.textContent = s.interest + (s.interestItems && s.interestItems.length ? ": " + s.interestItems.join(", ") : "");
    f.subscribers.textContent = String(s.subscribers);
    f.reconnects.textContent = String(s.reconnects);
    f.dropped.textContent = String(s.framesDropped);
    f.lastError.textContent = s.lastError ? s.lastError + " (" + ago(s.lastErrorAt, now) + ")" : "none";
    f.lastError.className = s.lastError ? "error" : "";
    draw(c.canvas, list);
  }
  for (const [name, c] of cards) {
    if (!seen.has(name)) { c.root.remove(); cards.delete(name); samples.delete(name); }
  }
  const clients = data.clients;
  $("clients").hidden = !clients;
  if (clients) {
    const fields = Object.entries(clients.subscriptions).sort((a, b) => b[1] - a[1]);
    $("connections").textContent = String(clients.connections);
    $("subscriptions").textContent = String(fields.reduce((n, [, v]) => n + v, 0));
    $("by-field").textContent = fields.length ? fields.map(([k, v]) => k + " " + v).join(" · ") : "none";
  }
}

async function poll() {
  clearTimeout(timer);
  try {
    const res = await fetch(DATA, { headers: key ? { authorization: "Bearer " + key } : {}, cache: "no-store" });
    if (res.status === 401) {
      $("login").hidden = false;
      $("login-error").textContent = key ? "That key was not accepted." : "";
      $("status-error").textContent = "";
      return; // wait for a key
    }
    if (!res.ok) throw new Error("HTTP " + res.status);
    $("login").hidden = true;
    $("status-error").textContent = "";
    render(await res.json());
  } catch (err) {
    $("status-error").textContent = "Cannot reach the relay: " + err.message + " (retrying)";
  }
  timer = setTimeout(poll, POLL_MS);
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  key = $("key").value.trim();
  $("key").value = "";
  sessionStorage.setItem("relay-status-key", key);
  for (const c of cards.values()) c.root.remove();
  cards.clear();
  samples.clear();
  poll();
});
poll();
`;
