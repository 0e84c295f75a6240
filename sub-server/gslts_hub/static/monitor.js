// GSLTS tick hub monitor: polls /api/status and renders it. No framework, works offline.
"use strict";

const POLL_MS = 2000;
const HISTORY = 150; // points on the ticks/s chart (5 minutes at 2 s)
const nf = new Intl.NumberFormat("ko-KR");
// Times are shown in KST whatever the viewer's zone (Korean market hours are KST).
const KST_TIME = new Intl.DateTimeFormat("ko-KR", { timeZone: "Asia/Seoul", hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" });
function kstTime(d) { return KST_TIME.format(d); }

function fmtInt(v) { return v === null || v === undefined ? "–" : nf.format(Math.round(v)); }
function fmtBytes(b) {
  if (b === null || b === undefined) return "–";
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0; let x = Number(b);
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i += 1; }
  return `${x.toFixed(i ? 1 : 0)} ${u[i]}`;
}
function fmtDuration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h) return `${h}시간 ${m}분`;
  if (m) return `${m}분 ${sec}초`;
  return `${sec}초`;
}
function fmtAge(s) {
  if (s === null || s === undefined) return "–";
  return s < 60 ? `${s.toFixed(1)}초 전` : `${fmtDuration(s)} 전`;
}
const JOURNAL_TEXT = { ok: "정상", failing: "쓰기 실패 (메모리 보관)", suspended: "수집 중단" };
const HEALTH_TEXT = { ok: "정상", quiet: "휴장/대기", vi: "VI 발동", stale: "지연", no_data: "수신 없음", dead: "중단" };

const chart = new Chart(document.getElementById("tps-chart"), {
  type: "line",
  data: { labels: [], datasets: [{ label: "ticks/s", data: [], borderColor: "#d60000", pointRadius: 0, tension: 0.2, fill: false }] },
  options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } }, plugins: { legend: { display: false } } },
});

function set(id, text) { document.getElementById(id).textContent = text; }

function render(st) {
  set("uptime", fmtDuration(st.uptime_s));
  set("ticks-today", fmtInt(st.tick_count_today));
  set("tps", fmtInt(st.ticks_per_s));
  const stocks = st.stocks || [];
  const collecting = Array.isArray(st.collecting_stocks) ? st.collecting_stocks.length : st.collecting_stocks;
  set("stocks", fmtInt(collecting ?? stocks.length));
  set("db-size", fmtBytes(st.db_size_bytes));
  set("backlog", fmtBytes(st.journal_backlog_bytes));
  set("flush-lag", st.flush_lag_s === null || st.flush_lag_s === undefined ? "–" : `${Number(st.flush_lag_s).toFixed(2)}초`);
  set("reconnects", fmtInt(st.reconnects));
  set("token", st.token_seconds_left === null || st.token_seconds_left === undefined ? "–" : fmtDuration(st.token_seconds_left));
  set("phase", st.market_phase || "–");
  set("journal", JOURNAL_TEXT[(st.journal || {}).state] || "–");

  // what is wrong right now (journal, database, Redis, writer, socket), in words
  const problems = document.getElementById("problems");
  const reasons = (st.health && st.health.reasons) || [];
  problems.hidden = reasons.length === 0;
  problems.replaceChildren(...reasons.map((r) => { const li = document.createElement("li"); li.textContent = r; return li; }));

  const now = new Date();
  chart.data.labels.push(kstTime(now));
  chart.data.datasets[0].data.push(st.ticks_per_s || 0);
  if (chart.data.labels.length > HISTORY) { chart.data.labels.shift(); chart.data.datasets[0].data.shift(); }
  chart.update();

  const tbody = document.querySelector("#stocks-table tbody");
  const rows = stocks.slice().sort((a, b) => (b.ticks_today || 0) - (a.ticks_today || 0)).map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.code = s.code;
    const health = s.health || "no_data";
    tr.innerHTML =
      `<td></td><td>${s.code}</td><td class="num">${fmtInt(s.last_price)}</td>` +
      `<td class="num ticks">${fmtInt(s.ticks_today)}</td><td class="num">${fmtAge(s.last_tick_age_s)}</td>` +
      `<td><span class="health health-${health}">${HEALTH_TEXT[health] || health}</span></td>`;
    tr.firstChild.textContent = s.name || "";
    return tr;
  });
  tbody.replaceChildren(...rows);

  const ul = document.getElementById("events");
  const events = (st.events || []).slice(-100).reverse().map((e) => {
    const li = document.createElement("li");
    const t = document.createElement("time");
    t.textContent = e.time ? kstTime(new Date(e.time)) : "";
    li.append(t, document.createTextNode(`${e.kind || ""} ${e.message || ""}`));
    return li;
  });
  ul.replaceChildren(...events);
}

async function poll() {
  const badge = document.getElementById("conn");
  try {
    const res = await fetch("/api/status", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const st = await res.json();
    render(st);
    const healthy = !st.health || st.health.ok;
    const live = st.ws_state === "ready" || st.collecting;
    badge.textContent = !healthy ? "문제 있음" : live ? "수집 중" : (st.ws_state || "대기");
    badge.className = "badge " + (healthy && live ? "ok" : "bad");
  } catch (err) {
    badge.textContent = `연결 끊김 (${err.message})`;
    badge.className = "badge bad";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}
poll();
