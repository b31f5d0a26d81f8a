// The qklzl dashboard's script: plain browser JavaScript, no framework, no network but the cluster's own public
// API (/status, /metrics, /kv, /watch) on every member. Served inline by GET /ui (src/node/http/dashboard.ts).
"use strict";
(() => {
  const status_every_ms = 1000;
  const metrics_every_ms = 2000;
  const request_timeout_ms = 900;
  const window_ms = 5 * 60 * 1000;
  const events_max = 200;
  const history_steps_max = 10;

  const $ = (id) => document.getElementById(id);
  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const clock = (t) => new Date(t).toLocaleTimeString([], { hour12: false });

  /** The page's picture of the cluster, rebuilt from every member's /status once a second. */
  const state = {
    homeAddr: location.host, // the member this page came from
    homeId: 0,
    source: location.host, // the member the page reads the configuration, keys and watch from
    members: new Map(), // id -> { id, addr, role, status, up, lastOk, downSince }
    leaderId: 0,
    maxTerm: 0,
    seenMembers: null, // "id:role" list last seen, for membership events
    started: Date.now(),
  };

  async function get(addr, path, timeoutMs = request_timeout_ms) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(`http://${addr}${path}`, { signal: controller.signal, cache: "no-store" });
      const text = await response.text();
      let body = null;
      try { body = JSON.parse(text); } catch { body = null; }
      return { status: response.status, body, text };
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- events feed ----------------------------------------------------------------------------------------
  function event(text, kind = "") {
    const li = document.createElement("li");
    if (kind) li.className = kind;
    li.innerHTML = `<time>${clock(Date.now())}</time>${esc(text)}`;
    const list = $("events");
    list.prepend(li);
    while (list.children.length > events_max) list.lastChild.remove();
  }

  // ---- members --------------------------------------------------------------------------------------------
  function addrOf(member) {
    return member.id === state.homeId ? state.homeAddr : member.http_addr;
  }

  /** configuration: the member list of the leader's /status when one answers, else the source's. */
  function configuration(statuses) {
    const leader = [...statuses.values()].filter((s) => s.is_leader).sort((a, b) => b.term - a.term)[0];
    const source = [...statuses.values()].find((s) => addrOfId(s.id) === state.source);
    return (leader ?? source ?? [...statuses.values()][0])?.members ?? null;
  }

  function addrOfId(id) {
    const m = state.members.get(id);
    return m ? m.addr : "";
  }

  async function pollStatus() {
    const targets = new Map(); // addr -> id (0: not known yet)
    targets.set(state.homeAddr, state.homeId);
    for (const m of state.members.values()) targets.set(m.addr, m.id);
    const answers = await Promise.all(
      [...targets.keys()].map((addr) =>
        get(addr, "/status").then(
          (r) => ({ addr, status: r.status === 200 && r.body && typeof r.body.id === "number" ? r.body : null }),
          () => ({ addr, status: null }),
        ),
      ),
    );
    const now = Date.now();
    const statuses = new Map(); // id -> status
    for (const { addr, status } of answers) {
      if (status === null) continue;
      if (addr === state.homeAddr && state.homeId === 0) {
        state.homeId = status.id;
        event(`page opened on node ${status.id} (${addr})`);
      }
      statuses.set(status.id, status);
    }
    const members = configuration(statuses);
    if (members !== null) updateMembership(members);
    for (const m of state.members.values()) {
      const status = statuses.get(m.id) ?? null;
      if (status !== null) {
        if (!m.up && m.lastOk > 0) event(`node ${m.id} answers again`, "good");
        // Once per start of the node (reset when it stops answering): it recovered from a crash mid-write.
        if ((status.torn_tail_bytes ?? 0) > 0 && !m.tornNoted) {
          event(`node ${m.id} recovered a torn WAL tail at start (${status.torn_tail_bytes} bytes of an unfinished write dropped)`, "bad");
          m.tornNoted = true;
        }
        noteChanges(m, status);
        m.status = status;
        m.up = true;
        m.lastOk = now;
        m.downSince = 0;
      } else {
        if (m.up || m.downSince === 0) {
          if (m.up) event(`node ${m.id} (${m.addr}) stopped answering`, "bad");
          m.downSince = now;
          m.tornNoted = false;
        }
        m.up = false;
      }
    }
    noteLeader();
    chooseSource();
    render();
  }

  function updateMembership(list) {
    const key = list.map((m) => `${m.id}:${m.role}`).sort().join(",");
    const ids = new Set(list.map((m) => m.id));
    for (const m of list) {
      const known = state.members.get(m.id);
      const addr = addrOf(m);
      if (!known) {
        state.members.set(m.id, { id: m.id, addr, role: m.role, match: m.match_index, status: null, up: false, lastOk: 0, downSince: 0 });
        if (state.seenMembers !== null) event(`node ${m.id} joined as ${m.role}`);
      } else {
        if (known.role !== m.role && state.seenMembers !== null) event(`node ${m.id}: ${known.role} → ${m.role}`);
        known.role = m.role;
        known.addr = addr;
        known.match = m.match_index;
      }
    }
    for (const id of [...state.members.keys()]) {
      if (!ids.has(id)) {
        state.members.delete(id);
        event(`node ${id} left the configuration`);
      }
    }
    if (state.seenMembers === null) event(`configuration: ${list.map((m) => `node ${m.id} (${m.role})`).join(", ")}`);
    state.seenMembers = key;
  }

  function noteChanges(member, status) {
    const before = member.status;
    if (before === null) return;
    if (status.snapshots_installed > before.snapshots_installed) {
      event(`node ${member.id} installed a snapshot from the leader (index ${status.snapshot_index})`);
    } else if (status.snapshot_index > before.snapshot_index) {
      event(`node ${member.id} took a snapshot at index ${status.snapshot_index}`);
    }
  }

  function noteLeader() {
    let leader = null;
    for (const m of state.members.values()) {
      if (!m.up || !m.status) continue;
      if (m.status.term > state.maxTerm) {
        if (state.maxTerm > 0) event(`term ${m.status.term} (an election; was ${state.maxTerm})`);
        state.maxTerm = m.status.term;
      }
      if (m.status.is_leader && (leader === null || m.status.term > leader.status.term)) leader = m;
    }
    const id = leader ? leader.id : 0;
    if (id !== state.leaderId) {
      if (id === 0) event(`no leader answers (node ${state.leaderId} was leader)`, "bad");
      else event(`leader: node ${id} in term ${leader.status.term}${state.leaderId ? ` (was node ${state.leaderId})` : ""}`, "good");
      state.leaderId = id;
    }
  }

  /** chooseSource: the home node while it answers, else the first member that does; says so on a switch. */
  function chooseSource() {
    const home = state.members.get(state.homeId);
    const homeUp = home === undefined ? state.homeId === 0 : home.up;
    let next = state.source;
    if (homeUp) next = state.homeAddr;
    else {
      const current = [...state.members.values()].find((m) => m.addr === state.source);
      if (!current || !current.up) {
        const other = [...state.members.values()].filter((m) => m.up).sort((a, b) => a.id - b.id)[0];
        if (other) next = other.addr;
      }
    }
    if (next !== state.source) {
      const to = [...state.members.values()].find((m) => m.addr === next);
      event(`now reading the cluster through node ${to ? to.id : "?"} (${next})`, next === state.homeAddr ? "good" : "bad");
      state.source = next;
      live.onSourceChanged();
    }
    const banner = $("banner");
    const sourceMember = [...state.members.values()].find((m) => m.addr === state.source);
    if (!homeUp) {
      banner.hidden = false;
      banner.textContent = sourceMember && sourceMember.up
        ? `node ${state.homeId} (${state.homeAddr}), which served this page, is not answering: switched to node ${sourceMember.id} (${state.source}).`
        : `no member answers (last tried ${state.source}); retrying every second.`;
    } else banner.hidden = true;
    $("source").textContent = sourceMember ? `via node ${sourceMember.id} (${state.source})` : `via ${state.source}`;
  }

  function roleOf(m) {
    if (!m.up) return "down";
    if (m.status.is_leader) return "leader";
    if (m.role === "learner") return "learner";
    return m.status.state === "follower" ? "follower" : "candidate";
  }

  function ago(ms) {
    return ms < 1000 ? `${ms} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
  }

  function render() {
    const now = Date.now();
    const leader = state.members.get(state.leaderId);
    const leaderStatus = leader && leader.up ? leader.status : null;
    const cards = [...state.members.values()].sort((a, b) => a.id - b.id).map((m) => {
      const role = roleOf(m);
      const s = m.status;
      const rows = s === null ? [] : [
        ["term", s.term], ["state", s.state], ["commit", s.commit_index], ["applied", s.applied_index],
        ["last log", s.last_log_index], ["snapshot", s.snapshot_index],
      ];
      if (leaderStatus && m.id !== state.leaderId) rows.push(["match (leader's view)", m.match]);
      let lag = "";
      if (leaderStatus && s !== null && m.up) {
        const behind = Math.max(0, leaderStatus.commit_index - s.applied_index);
        const pct = leaderStatus.commit_index > 0 ? Math.max(2, Math.min(100, (100 * s.applied_index) / leaderStatus.commit_index)) : 100;
        lag = `<div class="lag${behind > 10 ? " behind" : ""}" title="applied ${s.applied_index} of the leader's commit ${leaderStatus.commit_index}"><div style="width:${pct}%"></div></div>
          <div class="foot">lag ${behind} entr${behind === 1 ? "y" : "ies"} behind the leader's commit</div>`;
      }
      const contact = m.up ? `answered ${ago(now - m.lastOk)} ago` : m.lastOk ? `not answering for ${ago(now - m.downSince)} (last answer ${clock(m.lastOk)})` : "not answering";
      return `<div class="card${m.up ? "" : " down"}" data-id="${m.id}" data-role="${role}" data-up="${m.up}">
        <div class="title"><span>node ${m.id}</span><span class="role">${esc(role)}</span></div>
        <div class="muted small">${esc(m.addr)} · ${esc(m.role)}</div>
        ${m.up || s === null ? "" : `<div class="muted small">last known:</div>`}
        <dl${m.up ? "" : ' class="stale"'}>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>
        ${lag}<div class="foot">${esc(contact)}</div></div>`;
    });
    $("members").innerHTML = cards.join("");
    renderTolerance(leaderStatus);
    renderAlarms();
    const any = [...state.members.values()].find((m) => m.up && m.status);
    if (any) $("cluster-id").textContent = `cluster ${any.status.cluster_id}`;
  }

  function renderTolerance(leaderStatus) {
    const box = $("tolerance-box");
    let figure = null;
    let note = "";
    if (leaderStatus && typeof leaderStatus.fault_tolerance === "number") {
      figure = leaderStatus.fault_tolerance;
      note = `from the leader, node ${leaderStatus.id}`;
    } else {
      const relayed = [...state.members.values()].find((m) => m.up && m.status && m.status.fault_tolerance_source === "relayed");
      if (relayed) {
        figure = relayed.status.fault_tolerance;
        note = `relayed by node ${relayed.id}; no leader answers this page`;
      } else note = "no leader known";
    }
    $("fault-tolerance").textContent = figure === null ? "?" : String(figure);
    box.classList.toggle("zero", figure === 0);
    box.classList.toggle("unknown", figure === null);
    $("tolerance-note").textContent = figure === 0 ? `${note}: the next voter failure stops writes` : note;
  }

  function renderAlarms() {
    const carrying = [...state.members.values()].filter((m) => m.up && m.status && Array.isArray(m.status.alarms));
    const box = $("alarms");
    box.hidden = carrying.length === 0;
    if (carrying.length === 0) return;
    // Alarms are replicated: every member lists the same ones, each naming the member it is about.
    const named = (m, a) => (typeof a === "string" ? `node ${m.id}: ${a}` : `${a.alarm ?? JSON.stringify(a)} for node ${a.member_id ?? m.id}`);
    const raised = [...new Set(carrying.flatMap((m) => m.status.alarms.map((a) => named(m, a))))];
    box.textContent = raised.length === 0 ? "alarms: none" : `alarms: ${raised.join(" · ")}`;
  }

  // ---- charts from /metrics -------------------------------------------------------------------------------
  function parseMetrics(text) {
    const values = new Map();
    for (const line of text.split("\n")) {
      if (line.length === 0 || line[0] === "#") continue;
      const space = line.lastIndexOf(" ");
      const value = Number(line.slice(space + 1));
      if (Number.isFinite(value) || line.endsWith("+Inf")) values.set(line.slice(0, space), value);
    }
    return values;
  }

  function total(values, name) {
    let sum = null;
    for (const [key, value] of values) if (key === name || key.startsWith(`${name}{`)) sum = (sum ?? 0) + value;
    return sum;
  }

  /** buckets: a histogram's cumulative counts by upper bound, summed over its label sets (those with `label`). */
  function buckets(values, name, label = "") {
    const out = new Map();
    for (const [key, value] of values) {
      if (!key.startsWith(`${name}_bucket{`) || !key.includes(label)) continue;
      const le = /le="([^"]+)"/.exec(key);
      if (!le) continue;
      const bound = le[1] === "+Inf" ? Infinity : Number(le[1]);
      out.set(bound, (out.get(bound) ?? 0) + value);
    }
    return out;
  }

  /** quantile of the observations between two scrapes (bucket deltas): the upper bound reaching q, in ms. */
  function quantileMs(before, after, q) {
    const bounds = [...after.keys()].sort((a, b) => a - b);
    const delta = bounds.map((b) => Math.max(0, (after.get(b) ?? 0) - (before.get(b) ?? 0)));
    const count = delta[delta.length - 1] ?? 0;
    if (count === 0) return null;
    for (let i = 0; i < bounds.length; i++) {
      if (delta[i] >= q * count) return bounds[i] === Infinity ? (bounds[i - 1] ?? 0) * 1000 : bounds[i] * 1000;
    }
    return null;
  }

  const charts = [
    { id: "puts", title: "writes/s", unit: "/s", help: "qklzl_proposals_total, summed over members" },
    { id: "reads", title: "reads/s", unit: "/s", help: "qklzl_reads_total, summed over members" },
    { id: "p99", title: "/kv request p99", unit: " ms", help: "qklzl_http_request_duration_seconds{route=\"/kv\"} buckets, all members" },
    { id: "fsync", title: "fsync p99", unit: " ms", help: "qklzl_fsync_seconds buckets, all members" },
    { id: "elections", title: "elections", unit: "", help: "qklzl_raft_elections_total increase, summed over members; the figure: in the last 5 min", windowTotal: true },
  ];
  const series = new Map(charts.map((c) => [c.id, []]));
  const lastScrape = new Map(); // id -> { t, values }

  function setupCharts() {
    $("charts").innerHTML = charts.map((c) => `<div class="chart" data-chart="${c.id}" title="${esc(c.help)}">
      <div class="head"><span>${esc(c.title)}</span><span class="now" id="now-${c.id}">–</span></div>
      <canvas id="chart-${c.id}" height="70"></canvas><div class="muted small" id="note-${c.id}"></div></div>`).join("");
  }

  async function pollMetrics() {
    const now = Date.now();
    const up = [...state.members.values()].filter((m) => m.up);
    const scrapes = await Promise.all(up.map((m) => get(m.addr, "/metrics").then((r) => (r.status === 200 ? { m, values: parseMetrics(r.text) } : null), () => null)));
    const sums = { puts: null, reads: null, elections: null };
    const hist = { p99: [], fsync: [] };
    let histogramMissing = true;
    for (const scrape of scrapes) {
      if (scrape === null) continue;
      const before = lastScrape.get(scrape.m.id);
      lastScrape.set(scrape.m.id, { t: now, values: scrape.values });
      if (!before) continue;
      const seconds = Math.max(0.001, (now - before.t) / 1000);
      const rate = (name, per) => {
        const a = total(before.values, name);
        const b = total(scrape.values, name);
        if (a === null || b === null) return null;
        const increase = b >= a ? b - a : b; // a restarted node's counters start again from 0
        return per ? increase / seconds : increase;
      };
      for (const [key, name, per] of [["puts", "qklzl_proposals_total", true], ["reads", "qklzl_reads_total", true], ["elections", "qklzl_raft_elections_total", false]]) {
        const value = rate(name, per);
        if (value !== null) sums[key] = (sums[key] ?? 0) + value;
      }
      const kvRoute = 'route="/kv"';
      const requests = buckets(scrape.values, "qklzl_http_request_duration_seconds", kvRoute);
      if (requests.size > 0 || total(scrape.values, "qklzl_http_request_duration_seconds_count") !== null) histogramMissing = false;
      hist.p99.push([buckets(before.values, "qklzl_http_request_duration_seconds", kvRoute), requests]);
      hist.fsync.push([buckets(before.values, "qklzl_fsync_seconds"), buckets(scrape.values, "qklzl_fsync_seconds")]);
    }
    const worst = (pairs) => pairs.map(([a, b]) => quantileMs(a, b, 0.99)).filter((v) => v !== null).reduce((x, y) => Math.max(x, y), -1);
    const points = { ...sums, p99: worst(hist.p99), fsync: worst(hist.fsync) };
    for (const c of charts) {
      let v = points[c.id];
      if (v === -1) v = null;
      const list = series.get(c.id);
      list.push({ t: now, v });
      while (list.length > 0 && list[0].t < now - window_ms) list.shift();
    }
    $("note-p99").textContent = histogramMissing ? "no request-latency histogram in this node's /metrics" : "";
    drawCharts(now);
  }

  function drawCharts(now) {
    for (const c of charts) {
      const canvas = $(`chart-${c.id}`);
      const list = series.get(c.id);
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth || 240;
      const height = 70;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      const g = canvas.getContext("2d");
      g.scale(ratio, ratio);
      g.clearRect(0, 0, width, height);
      const values = list.map((p) => p.v).filter((v) => v !== null);
      const max = Math.max(1e-9, ...values) * 1.15 || 1;
      g.strokeStyle = "#2c3642";
      g.beginPath();
      g.moveTo(0, height - 0.5);
      g.lineTo(width, height - 0.5);
      g.stroke();
      g.strokeStyle = "#58a6ff";
      g.lineWidth = 1.5;
      g.beginPath();
      let pen = false;
      for (const p of list) {
        const x = width - ((now - p.t) / window_ms) * width;
        if (p.v === null) { pen = false; continue; }
        const y = height - 2 - (p.v / max) * (height - 14);
        if (pen) g.lineTo(x, y); else g.moveTo(x, y);
        pen = true;
      }
      g.stroke();
      g.fillStyle = "#8593a3";
      g.font = "10px system-ui, sans-serif";
      g.fillText(`max ${format(values.length ? Math.max(...values) : 0)}${c.unit}`, 2, 10);
      g.fillText("5 min", width - 30, height - 4);
      const last = c.windowTotal ? values.reduce((a, b) => a + b, 0) : list.length ? list[list.length - 1].v : null;
      $(`now-${c.id}`).textContent = last === null ? "–" : `${format(last)}${c.unit}`;
    }
  }

  function format(v) {
    return v >= 100 ? Math.round(v).toString() : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, "") || "0";
  }

  // ---- KV browser -----------------------------------------------------------------------------------------
  const old_node_message = 'missing query parameter "key"';
  const kv = { prefix: "", limit: 20, lastKey: null, more: false, available: null };

  /** prefixEnd: the first key after every key starting with prefix (the last code point plus one). */
  function prefixEnd(prefix) {
    const points = [...prefix];
    const last = points.pop().codePointAt(0);
    return points.join("") + String.fromCodePoint(last + 1);
  }

  function unavailable(answer, what) {
    const body = answer.body;
    if (answer.status === 404 && body && body.error === "not_found") return true;
    return answer.status === 400 && body && typeof body.message === "string" && body.message.startsWith(old_node_message) && what === "range";
  }

  async function listKeys(next) {
    const limit = Math.max(1, Math.min(1000, Number($("kv-limit").value) || 20));
    if (!next) {
      kv.prefix = $("kv-prefix").value;
      kv.limit = limit;
      kv.lastKey = null;
    }
    const p = encodeURIComponent;
    let query;
    if (kv.lastKey === null) query = `prefix=${p(kv.prefix)}&limit=${kv.limit}`;
    else if (kv.prefix === "") query = `key=${p(`${kv.lastKey}\0`)}&from_key=true&limit=${kv.limit}`;
    else query = `key=${p(`${kv.lastKey}\0`)}&range_end=${p(prefixEnd(kv.prefix))}&limit=${kv.limit}`;
    let answer;
    try {
      answer = await get(state.source, `/kv?${query}`, 5000);
    } catch (error) {
      $("kv-status").textContent = `node at ${state.source} did not answer (${error.name})`;
      return;
    }
    const body = answer.body;
    if (answer.status === 200 && body && Array.isArray(body.kvs)) {
      kv.available = true;
      const tbody = $("kv-table").tBodies[0];
      if (!next) tbody.innerHTML = "";
      for (const item of body.kvs) tbody.append(kvRow(item));
      kv.more = body.more === true;
      if (body.kvs.length > 0) kv.lastKey = body.kvs[body.kvs.length - 1].key;
      $("kv-more").disabled = !kv.more;
      const shown = tbody.rows.length;
      $("kv-status").textContent = `${shown} of ${body.count ?? "?"} key(s) with prefix "${kv.prefix}" at revision ${body.revision}${kv.more ? "; more on the next page" : ""}`;
    } else if (unavailable(answer, "range")) {
      kv.available = false;
      $("kv-status").textContent = "range API not available on this node (GET /kv?prefix=… is not served here)";
      $("kv-more").disabled = true;
    } else {
      $("kv-status").textContent = body && body.error ? `${body.error}: ${body.message}` : `HTTP ${answer.status}`;
    }
  }

  function kvRow(item) {
    const tr = document.createElement("tr");
    tr.dataset.key = item.key;
    tr.innerHTML = `<td>${esc(item.key)}</td><td>${esc(item.value ?? "")}</td><td>${esc(item.mod_revision ?? "")}</td><td>${esc(item.version ?? "")}</td>`;
    tr.addEventListener("click", () => showKey(item.key));
    return tr;
  }

  async function showKey(key) {
    const box = $("kv-detail");
    box.hidden = false;
    box.textContent = `reading ${key}…`;
    let answer;
    try {
      answer = await get(state.source, `/kv?key=${encodeURIComponent(key)}`, 5000);
    } catch (error) {
      box.textContent = `node at ${state.source} did not answer (${error.name})`;
      return;
    }
    const b = answer.body;
    if (answer.status !== 200 || !b) {
      box.textContent = b && b.error ? `${b.error}: ${b.message}` : `HTTP ${answer.status}`;
      return;
    }
    box.innerHTML = `<b>${esc(key)}</b><pre>${esc(b.value)}</pre>
      <div class="muted">created at revision ${esc(b.create_revision ?? "?")} · modified at ${esc(b.mod_revision ?? "?")} · version ${esc(b.version ?? "?")} · read at revision ${esc(b.revision ?? "?")}</div>
      <ol id="kv-history" class="events"></ol>`;
    if (kv.available === true && typeof b.mod_revision === "number") void earlierValues(key, b);
  }

  /** earlierValues walks back through the history the node still holds: the key as of mod_revision - 1, and so on. */
  async function earlierValues(key, current) {
    const list = $("kv-history");
    let at = current;
    for (let step = 0; step < history_steps_max && at.version > 1 && at.mod_revision > 1; step++) {
      const answer = await get(state.source, `/kv?key=${encodeURIComponent(key)}&revision=${at.mod_revision - 1}`, 5000).catch(() => null);
      if (!answer || !document.body.contains(list)) return;
      const b = answer.body;
      const li = document.createElement("li");
      if (answer.status !== 200 || !b || !Array.isArray(b.kvs)) {
        li.textContent = b && b.error === "compacted" ? `earlier values compacted (before revision ${at.mod_revision})` : `history: ${b && b.error ? `${b.error}: ${b.message}` : `HTTP ${answer.status}`}`;
        list.append(li);
        return;
      }
      if (b.kvs.length === 0) return;
      at = b.kvs[0];
      li.innerHTML = `<time>rev ${esc(at.mod_revision)}</time>${esc(at.value)} <span class="muted">(version ${esc(at.version)})</span>`;
      list.append(li);
    }
  }

  // ---- live mode (GET /watch as Server-Sent Events) -------------------------------------------------------
  const live = {
    source: null,
    stream: null,
    prefix: "",
    lastRevision: 0,
    opened: false,
    start() {
      this.stop();
      this.prefix = $("kv-prefix").value;
      this.open(0);
    },
    open(fromRevision) {
      this.source = state.source;
      this.opened = false;
      const start = fromRevision > 0 ? `&start_revision=${fromRevision}` : "";
      const url = `http://${this.source}/watch?prefix=${encodeURIComponent(this.prefix)}${start}`;
      const stream = new EventSource(url);
      this.stream = stream;
      $("live-status").textContent = `connecting to ${this.source}…`;
      stream.addEventListener("created", (e) => {
        this.opened = true;
        const created = JSON.parse(e.data);
        $("live-status").textContent = `live: following prefix "${this.prefix}" on ${this.source} from revision ${created.start_revision ?? created.revision + 1}`;
      });
      stream.addEventListener("message", (e) => {
        this.opened = true;
        const data = JSON.parse(e.data);
        const events = Array.isArray(data.events) ? data.events : [data];
        const revision = data.revision ?? Number(e.lastEventId);
        if (revision > this.lastRevision) this.lastRevision = revision;
        for (const ev of events) this.show(ev, revision);
      });
      stream.addEventListener("cancel", (e) => {
        stream.close();
        $("live-status").textContent = `watch cancelled by the node: ${e.data}`;
      });
      stream.addEventListener("error", () => {
        if (stream !== this.stream) return;
        if (!this.opened) {
          stream.close();
          void this.explain(url);
        } else $("live-status").textContent = `watch on ${this.source} interrupted; reconnecting…`;
      });
    },
    /** explain: why a watch did not open; an old node answers /watch with not_found. */
    async explain(url) {
      const path = url.slice(`http://${this.source}`.length);
      const controller = new AbortController();
      try {
        const response = await fetch(url.replace(/^http:\/\/[^/]+/, `http://${this.source}`), { signal: controller.signal });
        const status = response.status;
        const body = status === 200 ? null : await response.json().catch(() => null);
        controller.abort();
        if (status === 404 || (body && body.error === "not_found")) $("live-status").textContent = "watch API not available on this node (GET /watch is not served here)";
        else if (body && body.error) $("live-status").textContent = `watch refused: ${body.error}: ${body.message}`;
        else setTimeout(() => { if (this.stream && $("kv-follow").checked) this.open(this.lastRevision + 1); }, 1000);
      } catch {
        $("live-status").textContent = `watch: ${this.source} does not answer (${path})`;
      }
    },
    show(ev, revision) {
      const kvItem = ev.kv ?? {};
      const li = document.createElement("li");
      li.dataset.key = kvItem.key ?? "";
      li.innerHTML = `<time>rev ${esc(revision)}</time><b>${esc(ev.type)}</b> ${esc(kvItem.key ?? "")}${ev.type === "put" ? ` = ${esc(kvItem.value ?? "")}` : ""}`;
      const feed = $("live-feed");
      feed.prepend(li);
      while (feed.children.length > events_max) feed.lastChild.remove();
      const row = [...$("kv-table").tBodies[0].rows].find((r) => r.dataset.key === kvItem.key);
      if (ev.type === "delete" && row) row.remove();
      else if (ev.type === "put") {
        const fresh = kvRow(kvItem);
        if (row) row.replaceWith(fresh); else if (kv.available) $("kv-table").tBodies[0].prepend(fresh);
      }
    },
    stop() {
      if (this.stream) this.stream.close();
      this.stream = null;
      $("live-status").textContent = "";
    },
    /** onSourceChanged: the node followed died; resume on the new source after the last revision seen. */
    onSourceChanged() {
      if (!this.stream || this.source === state.source) return;
      this.stream.close();
      this.open(this.lastRevision > 0 ? this.lastRevision + 1 : 0);
    },
  };

  // ---- wiring ---------------------------------------------------------------------------------------------
  function every(ms, task) {
    const run = async () => {
      try { await task(); } catch (error) { console.error(error); }
      setTimeout(run, ms);
    };
    void run();
  }

  setupCharts();
  $("kv-form").addEventListener("submit", (e) => {
    e.preventDefault();
    void listKeys(false);
    if ($("kv-follow").checked) live.start();
  });
  $("kv-more").addEventListener("click", () => void listKeys(true));
  $("kv-follow").addEventListener("change", (e) => (e.target.checked ? live.start() : live.stop()));
  every(status_every_ms, pollStatus);
  every(metrics_every_ms, pollMetrics);
  void listKeys(false);
})();
