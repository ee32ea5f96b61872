// sepmon web view: the live picture (over a WebSocket) or a recording played back.
// Plain modern JS on a canvas; nothing is fetched from anywhere but the page's own origin
// (map tiles only when the configuration names a tile server).
"use strict";
(() => {
  const LEVEL_NAMES = ["none", "advisory", "caution", "warning"];
  const LEVEL_COLOURS = [null, "#e6b800", "#ff7f0e", "#e03131"];
  const TRACK_COLOUR = "#4dabf7";
  const GREY = "#7b8394";
  const D2R = Math.PI / 180;
  const WGS84_A = 6378137.0;
  const WGS84_E2 = 6.69437999014e-3;
  const TRAIL_S = 120; // seconds of trail behind each track
  const TRAIL_POINTS = 120;
  const VECTOR_S = 60; // velocity vectors show where a track is in one minute
  const NO_DATA_S = 3; // no picture for this long: the screen says so
  const LABEL_BUDGET = 60; // tracks labelled on the scope at most (alerting and greyed ones first)
  const TRAIL_BUDGET = 4000; // trail points drawn per frame at most (all tracks together)
  const PAIR_LABELS = 60; // pairs labelled on the scope at most
  const CPA_DRAWN = 60; // predicted closest points drawn at most: the most urgent pairs'
  const MAX_ROWS = 60;
  const MAX_EVENTS = 2000;
  const SHOWN_EVENTS = 300;

  const $ = (id) => document.getElementById(id);
  const mode = document.body.dataset.mode === "playback" ? "playback" : "live";
  const canvas = $("scope");
  const ctx = canvas.getContext("2d");

  const state = {
    mode,
    frame: null, // the picture on screen
    origin: null, // [lat0, lon0] of the local east/north frame
    k: null,
    view: { cx: 0, cy: 0, scale: 0.05, user: false },
    trails: new Map(), // live: name -> [[t, lat, lon], ...]
    events: [], // oldest first
    eventsDirty: true,
    connected: false,
    everConnected: false,
    lastFrameWall: -Infinity,
    frames: 0,
    draws: 0,
    run: null,
    config: {},
    updateMs: [], // per update: message handling + drawing, without the wait for the next frame (bench)
    handlerMs: 0,
    noData: true,
    noDataWhy: "connecting…",
  };
  window.sepmon = state; // read by the browser tests and the bench

  // ---- geometry ------------------------------------------------------------------------------

  function setOrigin(lat0, lon0) {
    const s2 = Math.sin(lat0 * D2R) ** 2;
    const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * s2);
    const m = (WGS84_A * (1 - WGS84_E2)) / Math.pow(1 - WGS84_E2 * s2, 1.5);
    state.origin = [lat0, lon0];
    state.k = { e: n * Math.cos(lat0 * D2R) * D2R, n: m * D2R };
  }

  function local(lat, lon) {
    let dl = lon - state.origin[1];
    if (dl > 180) dl -= 360;
    if (dl < -180) dl += 360;
    return [dl * state.k.e, (lat - state.origin[0]) * state.k.n];
  }

  function unlocal(x, y) {
    return [state.origin[0] + y / state.k.n, state.origin[1] + x / state.k.e];
  }

  let W = 0;
  let H = 0;
  function toScreen(x, y) {
    const v = state.view;
    return [W / 2 + (x - v.cx) * v.scale, H / 2 - (y - v.cy) * v.scale];
  }

  state.screenOf = (name) => {
    const tr = state.frame && state.frame.tracks.find((t) => t.n === name);
    if (!tr || !state.origin) return null;
    return toScreen(...local(tr.lat, tr.lon));
  };
  state.pixel = (x, y) => {
    const dpr = window.devicePixelRatio || 1;
    return Array.from(ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data);
  };

  // ---- formatting ----------------------------------------------------------------------------

  function dist(m) {
    if (m === null || m === undefined || !Number.isFinite(m)) return "—";
    return Math.abs(m) >= 1000 ? `${(m / 1000).toFixed(2)} km` : `${Math.round(m)} m`;
  }
  function secs(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return "—";
    return s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  }
  function hms(t) {
    return new Date(t * 1000).toISOString().slice(11, 19) + "Z";
  }
  function ago(age) {
    return `${secs(age)} ago`;
  }

  function eventClass(ev) {
    if (ev.type === "level") return "level";
    if (ev.type === "acquired" || ev.type === "lost" || ev.type === "regained") return "track";
    if (ev.type.startsWith("port_")) return "port";
    if (ev.type.startsWith("board")) return "board";
    return "other";
  }

  function eventText(ev) {
    const who = ev.b ? `${ev.a} ↔ ${ev.b}` : ev.a;
    const parts = [hms(ev.t), ev.type.padEnd(9), who];
    if (ev.type === "level") {
      const prev = LEVEL_NAMES[ev.prev_level ?? 0] ?? "?";
      parts.push(`${prev} → ${(LEVEL_NAMES[ev.level] ?? "?").toUpperCase()}`);
      parts.push(`range ${dist(ev.range_m)}`, `vert ${dist(ev.vertical_m)}`);
      parts.push(ev.tcpa_s === null || ev.tcpa_s === undefined ? "diverging" : `TCPA ${secs(ev.tcpa_s)}`);
      parts.push(`CPA ${dist(ev.cpa_m)}`);
      if (ev.lost) parts.push("(track lost)");
    }
    if (ev.detail) parts.push(ev.detail);
    return parts.join("  ");
  }

  // ---- drawing -------------------------------------------------------------------------------

  let drawQueued = false;
  function requestDraw() {
    if (!drawQueued) {
      drawQueued = true;
      requestAnimationFrame(draw);
    }
  }

  function resize() {
    const dpr = window.devicePixelRatio || 1;
    W = canvas.clientWidth;
    H = canvas.clientHeight;
    canvas.width = Math.max(1, Math.round(W * dpr));
    canvas.height = Math.max(1, Math.round(H * dpr));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    requestDraw();
  }

  function minimum() {
    const m = state.frame && state.frame.minima;
    return m && m.horizontal_m > 0 ? m : { horizontal_m: 3000, vertical_m: 300, caution_factor: 1, advisory_factor: 1 };
  }

  function fit() {
    const f = state.frame;
    if (!f || !state.origin || !W || !H) return;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const t of f.tracks) {
      const [x, y] = local(t.lat, t.lon);
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    }
    if (!Number.isFinite(x0)) return;
    const span = Math.max(x1 - x0, y1 - y0, 2 * minimum().horizontal_m);
    state.view.cx = (x0 + x1) / 2;
    state.view.cy = (y0 + y1) / 2;
    state.view.scale = (0.85 * Math.min(W, H)) / span;
  }

  const tileCache = new Map();
  function drawTiles() {
    const tiles = state.config.tiles;
    if (!tiles || !state.origin) return;
    const lat0 = state.origin[0];
    const maxZoom = tiles.max_zoom ?? 19;
    const z = Math.max(0, Math.min(maxZoom, Math.round(Math.log2((156543.03392 * Math.cos(lat0 * D2R) * state.view.scale)))));
    const n = 2 ** z;
    const v = state.view;
    const [latN, lonW] = unlocal(v.cx - W / 2 / v.scale, v.cy + H / 2 / v.scale);
    const [latS, lonE] = unlocal(v.cx + W / 2 / v.scale, v.cy - H / 2 / v.scale);
    const tx = (lon) => Math.floor(((lon + 180) / 360) * n);
    const ty = (lat) => {
      const r = Math.max(-85.05, Math.min(85.05, lat)) * D2R;
      return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * n);
    };
    const lonOf = (x) => (x / n) * 360 - 180;
    const latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) / D2R;
    const [xa, xb, ya, yb] = [tx(lonW), tx(lonE), ty(latN), ty(latS)];
    if ((xb - xa + 1) * (yb - ya + 1) > 64) return;
    let drawn = 0;
    for (let x = xa; x <= xb; x++) {
      for (let y = ya; y <= yb; y++) {
        if (y < 0 || y >= n) continue;
        const url = tiles.url.replace("{z}", z).replace("{x}", ((x % n) + n) % n).replace("{y}", y);
        let img = tileCache.get(url);
        if (!img) {
          if (tileCache.size > 400) tileCache.clear();
          img = new Image();
          img.onload = requestDraw;
          img.src = url;
          tileCache.set(url, img);
        }
        if (!img.complete || !img.naturalWidth) continue;
        const [sx0, sy0] = toScreen(...local(latOf(y), lonOf(x)));
        const [sx1, sy1] = toScreen(...local(latOf(y + 1), lonOf(x + 1)));
        ctx.globalAlpha = 0.55;
        ctx.drawImage(img, sx0, sy0, sx1 - sx0, sy1 - sy0);
        ctx.globalAlpha = 1;
        drawn += 1;
      }
    }
    state.tilesDrawn = drawn; // (a cross-origin tile taints the canvas: its pixels cannot be read back)
  }

  function drawRings() {
    const h = minimum().horizontal_m;
    const px = h * state.view.scale;
    if (!(px > 0)) return;
    let mult = 1;
    for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) {
      mult = m;
      if (px * m >= 60) break;
    }
    const step = h * mult;
    const cx = W / 2, cy = H / 2;
    const rmax = Math.hypot(W, H) / 2;
    ctx.strokeStyle = "#26324d";
    ctx.fillStyle = "#5c6b8a";
    ctx.lineWidth = 1;
    ctx.font = "11px system-ui, sans-serif";
    for (let i = 1; i * step * state.view.scale < rmax && i < 60; i++) {
      const r = i * step * state.view.scale;
      ctx.beginPath();
      ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      ctx.stroke();
      const label = i * mult === 1 ? `${dist(h)} (minimum)` : `${dist(i * step)}`;
      ctx.fillText(label, cx + r * 0.7071 + 3, cy - r * 0.7071 - 3);
    }
    ctx.beginPath();
    ctx.moveTo(cx - 6, cy); ctx.lineTo(cx + 6, cy); ctx.moveTo(cx, cy - 6); ctx.lineTo(cx, cy + 6);
    ctx.stroke();
    // North up
    ctx.fillStyle = "#8a96ad";
    ctx.font = "bold 12px system-ui, sans-serif";
    ctx.fillText("N ↑", W - 34, 18);
  }

  function trailLength(name, tNow) {
    if (mode === "live") return (state.trails.get(name) || []).length;
    const tr = recording.tracks[name];
    return Math.min(TRAIL_POINTS, lastAtOrBefore(tr.t, tNow) - lastAtOrBefore(tr.t, tNow - TRAIL_S));
  }

  function trailOf(name, tNow) {
    if (mode === "live") return state.trails.get(name) || [];
    const tr = recording.tracks[name];
    const hi = lastAtOrBefore(tr.t, tNow);
    const out = [];
    if (hi < 0) return out;
    let lo = lastAtOrBefore(tr.t, tNow - TRAIL_S) + 1;
    const step = Math.max(1, Math.ceil((hi - lo + 1) / TRAIL_POINTS));
    for (let i = lo; i <= hi; i += step) out.push([tr.t[i], tr.lat[i], tr.lon[i]]);
    return out;
  }

  function draw() {
    drawQueued = false;
    const t0 = performance.now();
    ctx.fillStyle = "#0b1220";
    ctx.fillRect(0, 0, W, H);
    const f = state.frame;
    if (!f || !state.origin) {
      drawRings();
      ctx.fillStyle = "#8a96ad";
      ctx.font = "14px system-ui, sans-serif";
      ctx.fillText(mode === "playback" && !recordingHasTracks() ? "no positions in this recording" : "no track yet", 20, 30);
      finishUpdate(t0);
      return;
    }
    drawTiles();
    drawRings();
    const v = state.view;
    const kx = state.k.e * v.scale, ky = state.k.n * v.scale;
    const ox = W / 2 - (state.origin[1] * state.k.e + v.cx) * v.scale;
    const oy = H / 2 + (state.origin[0] * state.k.n + v.cy) * v.scale;
    const lon0 = state.origin[1];
    // Screen position straight from lat/lon (no arrays made per point: thousands of points a frame).
    const sx = (lon) => { let dl = lon - lon0; if (dl > 180) dl -= 360; else if (dl < -180) dl += 360; return ox + (lon0 + dl) * kx; };
    const sy = (lat) => oy - lat * ky;
    const pos = new Map();
    for (const t of f.tracks) pos.set(t.n, [sx(t.lon), sy(t.lat)]);
    // Trails, current tracks in one path and greyed ones in another; thinned to a budget of points.
    let points = 0;
    for (const t of f.tracks) points += trailLength(t.n, f.t);
    const every = Math.max(1, Math.ceil(points / TRAIL_BUDGET));
    for (const grey of [true, false]) {
      ctx.beginPath();
      for (const t of f.tracks) {
        if ((t.state !== "ok") !== grey) continue;
        const trail = trailOf(t.n, f.t);
        const n = trail.length;
        if (n < 1) continue;
        ctx.moveTo(sx(trail[0][2]), sy(trail[0][1]));
        for (let i = every; i < n; i += every) ctx.lineTo(sx(trail[i][2]), sy(trail[i][1]));
        const [x, y] = pos.get(t.n);
        ctx.lineTo(x, y);
      }
      ctx.strokeStyle = grey ? "rgba(123,131,148,0.45)" : "rgba(77,171,247,0.45)";
      ctx.lineWidth = 1.2;
      ctx.setLineDash(grey ? [3, 3] : []);
      ctx.stroke();
    }
    ctx.setLineDash([]);
    // Velocity vectors of current tracks (a lost track's velocity is history, not a prediction).
    ctx.beginPath();
    for (const t of f.tracks) {
      if (t.state !== "ok" || !(t.ve || t.vn)) continue;
      const [x, y] = pos.get(t.n);
      ctx.moveTo(x, y);
      ctx.lineTo(x + t.ve * VECTOR_S * v.scale, y - t.vn * VECTOR_S * v.scale);
    }
    ctx.strokeStyle = TRACK_COLOUR;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    // Pairs at advisory or above, one path per level and kind, lowest level first so the highest is on top.
    const byName = new Map(f.tracks.map((t) => [t.n, t]));
    const pairs = f.pairs.filter((p) => p.level >= 1 && pos.has(p.a) && pos.has(p.b));
    const labelled = new Set();
    const leftOf = new Set(); // tracks whose label goes to the left (their partner is to the right)
    const texts = pairs.length <= PAIR_LABELS;
    // With many pairs only the most urgent get their predicted closest point drawn.
    const urgent = new Set(
      pairs.length <= CPA_DRAWN ? pairs : [...pairs].sort((p, q) => q.level - p.level || p.range - q.range).slice(0, CPA_DRAWN),
    );
    for (let level = 1; level <= 3; level++) {
      const colour = LEVEL_COLOURS[level];
      const these = pairs.filter((p) => p.level === level);
      if (!these.length) continue;
      for (const lost of [false, true]) {
        ctx.beginPath();
        for (const p of these) {
          if (p.lost !== lost) continue;
          const [xa, ya] = pos.get(p.a);
          const [xb, yb] = pos.get(p.b);
          ctx.moveTo(xa, ya);
          ctx.lineTo(xb, yb);
        }
        ctx.strokeStyle = colour;
        ctx.lineWidth = 1 + level;
        ctx.setLineDash(lost ? [6, 4] : []);
        ctx.stroke();
      }
      // Predicted closest point: each track carried along its velocity for TCPA seconds.
      const marks = [];
      ctx.beginPath();
      for (const p of these) {
        const [xa, ya] = pos.get(p.a);
        const [xb, yb] = pos.get(p.b);
        labelled.add(p.a);
        labelled.add(p.b);
        leftOf.add(xb > xa ? p.a : p.b);
        const ta = byName.get(p.a), tb = byName.get(p.b);
        if (!urgent.has(p) || p.tcpa === null || p.tcpa === undefined || p.tcpa < 0) continue;
        if (ta.state === "lost" || tb.state === "lost") continue;
        const k = p.tcpa * v.scale;
        const cax = xa + (ta.ve || 0) * k, cay = ya - (ta.vn || 0) * k;
        const cbx = xb + (tb.ve || 0) * k, cby = yb - (tb.vn || 0) * k;
        ctx.moveTo(xa, ya); ctx.lineTo(cax, cay);
        ctx.moveTo(xb, yb); ctx.lineTo(cbx, cby);
        ctx.moveTo(cax, cay); ctx.lineTo(cbx, cby);
        marks.push(cax, cay, cbx, cby);
        if (texts) p._cpaAt = [(cax + cbx) / 2, (cay + cby) / 2];
      }
      ctx.lineWidth = 1;
      ctx.setLineDash([2, 3]);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      for (let i = 0; i < marks.length; i += 2) {
        ctx.moveTo(marks[i] + 3.5, marks[i + 1]);
        ctx.arc(marks[i], marks[i + 1], 3.5, 0, 2 * Math.PI);
      }
      ctx.stroke();
      if (texts) {
        ctx.fillStyle = colour;
        for (const p of these) {
          const [xa, ya] = pos.get(p.a);
          const [xb, yb] = pos.get(p.b);
          ctx.font = "bold 11px system-ui, sans-serif";
          ctx.fillText(`${LEVEL_NAMES[level].toUpperCase()} ${dist(p.range)}`, (xa + xb) / 2 + 6, (ya + yb) / 2 - 6);
          if (p._cpaAt) {
            ctx.font = "11px system-ui, sans-serif";
            ctx.fillText(`CPA ${dist(p.cpa)} in ${secs(p.tcpa)}`, p._cpaAt[0] + 6, p._cpaAt[1] + 14);
          }
        }
      }
    }
    // Track symbols: filled when current, hollow and grey when stale or lost.
    ctx.lineWidth = 1.5;
    ctx.fillStyle = TRACK_COLOUR;
    ctx.beginPath();
    for (const t of f.tracks) {
      if (t.state !== "ok") continue;
      const [x, y] = pos.get(t.n);
      ctx.moveTo(x + 4, y);
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
    }
    ctx.fill();
    ctx.strokeStyle = GREY;
    ctx.fillStyle = "#0b1220";
    for (const t of f.tracks) {
      if (t.state === "ok") continue;
      const [x, y] = pos.get(t.n);
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
      if (t.state === "lost") {
        ctx.beginPath();
        ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5);
        ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5);
        ctx.stroke();
      }
    }
    // Labels: tracks in alerting pairs and greyed tracks first, then the rest while the budget lasts.
    const order = f.tracks.filter((t) => labelled.has(t.n) || t.state !== "ok");
    if (order.length < LABEL_BUDGET) {
      for (const t of f.tracks) {
        if (order.length >= LABEL_BUDGET) break;
        if (!labelled.has(t.n) && t.state === "ok") order.push(t);
      }
    }
    ctx.font = "11px system-ui, sans-serif";
    for (const t of order.slice(0, LABEL_BUDGET)) {
      const [x, y] = pos.get(t.n);
      if (x < -50 || y < -50 || x > W + 50 || y > H + 50) continue;
      const alt = t.alt === null || t.alt === undefined ? "alt —" : `${Math.round(t.alt)} m`;
      const left = leftOf.has(t.n);
      ctx.textAlign = left ? "right" : "left";
      const lx = left ? x - 8 : x + 8;
      ctx.fillStyle = t.state === "ok" ? "#dfe6f3" : GREY;
      ctx.fillText(t.n, lx, y - 4);
      ctx.fillStyle = t.state === "ok" ? "#8a96ad" : GREY;
      const age = t.state === "lost" ? `LOST, seen ${ago(t.age)}` : t.state === "stale" ? `stale, seen ${ago(t.age)}` : secs(t.age);
      ctx.fillText(`${alt} · ${age}`, lx, y + 9);
    }
    ctx.textAlign = "left";
    drawScaleBar();
    finishUpdate(t0);
  }

  function drawScaleBar() {
    const target = 120 / state.view.scale;
    const p = 10 ** Math.floor(Math.log10(target));
    const len = [5, 2, 1].map((m) => m * p).find((v) => v <= target) || p;
    const px = len * state.view.scale;
    ctx.strokeStyle = "#8a96ad";
    ctx.fillStyle = "#8a96ad";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(W - 20 - px, H - 20); ctx.lineTo(W - 20, H - 20);
    ctx.moveTo(W - 20 - px, H - 24); ctx.lineTo(W - 20 - px, H - 16);
    ctx.moveTo(W - 20, H - 24); ctx.lineTo(W - 20, H - 16);
    ctx.stroke();
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(dist(len), W - 20 - px, H - 28);
  }

  function finishUpdate(t0) {
    state.draws += 1;
    state.updateMs.push(state.handlerMs + (performance.now() - t0));
    state.handlerMs = 0;
    if (state.updateMs.length > 500) state.updateMs.splice(0, 250);
  }

  // ---- panels --------------------------------------------------------------------------------

  // Tables are updated in place: rows and cells are reused and only changed text is written,
  // so a panel of many rows costs little when few values change.
  function row(body, cells, cls) {
    const tbody = body.el;
    let tr = tbody.rows[body.i];
    if (!tr) {
      tr = document.createElement("tr");
      tbody.appendChild(tr);
    }
    body.i += 1;
    const sig = `${cls}\u0001${cells.map((c) => (Array.isArray(c) ? `${c[0]}\u0002${c[1]}` : c)).join("\u0001")}`;
    if (tr._sig === sig) return tr; // nothing changed: no DOM access at all
    tr._sig = sig;
    if (tr.className !== (cls || "")) tr.className = cls || "";
    while (tr.cells.length < cells.length) tr.appendChild(document.createElement("td"));
    while (tr.cells.length > cells.length) tr.lastChild.remove();
    cells.forEach((c, k) => {
      const td = tr.cells[k];
      const [text, tcls] = Array.isArray(c) ? c : [c, ""];
      if (td.textContent !== text) td.textContent = text;
      if (td.className !== (tcls || "")) td.className = tcls || "";
    });
    return tr;
  }

  function setData(el, key, value) {
    if (el.dataset[key] !== value) el.dataset[key] = value;
  }

  function fillTable(id, build) {
    const body = { el: $(id).tBodies[0], i: 0 };
    build(body);
    while (body.el.rows.length > body.i) body.el.lastChild.remove();
  }

  function renderPairs(f) {
    const pairs = f.pairs.filter((p) => p.level >= 1);
    pairs.sort((p, q) => q.level - p.level || p.range - q.range);
    $("pairs-note").textContent = pairs.length ? `${pairs.length} at advisory or above` : "none at advisory or above";
    fillTable("pairs", (tb) => {
      for (const p of pairs.slice(0, MAX_ROWS)) {
        const tr = row(tb, [
          `${p.a} ↔ ${p.b}`,
          [LEVEL_NAMES[p.level].toUpperCase() + (p.lost ? " (lost)" : ""), "level"],
          [dist(p.range), "num"],
          [dist(p.vert), "num"],
          [p.tcpa === null || p.tcpa === undefined ? "diverging" : secs(p.tcpa), "num"],
          [dist(p.cpa), "num"],
        ], `pair lv${p.level}${p.lost ? " lost" : ""}`);
        setData(tr, "a", p.a);
        setData(tr, "b", p.b);
        setData(tr, "level", String(p.level));
        if (p.asof !== undefined) tr.title = `as the monitor said at ${hms(p.asof)}`;
      }
    });
  }

  function renderBoards(f) {
    const section = $("boards-section");
    if (!f.boards) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    fillTable("boards", (tb) => {
      for (const b of f.boards) {
        const told = b.told ?? "—";
        const acked = b.silent ? ["NOT ACKNOWLEDGING", "bad"] : b.acked ? `yes (${b.acks})` : "—";
        const port = b.port_up === null ? "—" : b.port_up ? "up" : [`down ${b.port_detail || ""}`.trim(), "bad"];
        const gps = b.gps === "ok" ? "ok" : b.gps === "silent" ? [`silent ${secs(b.gps_silent_s)}`, "bad"] : "—";
        const tr = row(tb, [b.name, [told.toUpperCase() + (b.flags ? ` ${b.flags}` : ""), told === "degraded" ? "degraded" : `told ${told}`], acked, port, gps], `board told-${told}`);
        setData(tr, "name", b.name);
        setData(tr, "told", told);
        setData(tr, "acked", b.acked ? "1" : "0");
        const lv = LEVEL_NAMES.indexOf(told);
        if (lv >= 1) tr.cells[1].className = `lv${lv}`;
      }
    });
  }

  function renderSources(f) {
    const tracks = new Map(f.tracks.map((t) => [t.n, t]));
    const rows = (f.sources || []).map((s) => ({ s, t: tracks.get(s.name) }));
    const rank = (r) => (!r.s.up ? 0 : r.t && r.t.state !== "ok" ? 1 : 2);
    rows.sort((p, q) => rank(p) - rank(q) || (p.s.name < q.s.name ? -1 : 1));
    $("sources-note").textContent = rows.length > MAX_ROWS ? `${MAX_ROWS} of ${rows.length} shown, problems first` : f.sources_note || "";
    fillTable("sources", (tb) => {
      for (const { s, t } of rows.slice(0, MAX_ROWS)) {
        const link = s.up === null || s.up === undefined ? "—" : s.up ? "up" : [`down ${s.detail || ""}`.trim(), "bad"];
        let track = "no fix";
        let cls = "";
        if (t) {
          track = t.state === "lost" ? `LOST, seen ${ago(t.age)}` : t.state === "stale" ? `stale, seen ${ago(t.age)}` : `ok, ${secs(t.age)}`;
          cls = t.state;
        }
        const tr = row(tb, [s.name, link, [track, "state"], [String(s.lines ?? "—"), "num"], [String(s.fixes ?? "—"), "num"], [String(s.rejected ?? "—"), "num"]], `source ${cls}`);
        setData(tr, "name", s.name);
        setData(tr, "state", t ? t.state : "none");
        if (s.rejected_by) {
          const title = Object.entries(s.rejected_by).map(([k, v]) => `${k}: ${v}`).join(", ");
          if (tr.title !== title) tr.title = title;
        }
      }
    });
  }

  let shownEvents = "";
  function renderEvents(force) {
    const now = state.frame ? state.frame.t : Infinity;
    const text = $("ev-filter").value.trim().toLowerCase();
    const kind = $("ev-type").value;
    const list = [];
    for (let i = state.events.length - 1; i >= 0 && list.length < SHOWN_EVENTS; i--) {
      const ev = state.events[i];
      if (mode === "playback" && ev.t > now) continue;
      if (kind && eventClass(ev) !== kind) continue;
      const line = ev._text || (ev._text = eventText(ev));
      if (text && !line.toLowerCase().includes(text)) continue;
      list.push(ev);
    }
    const key = `${list.length}:${list.length ? list[0]._text : ""}:${text}:${kind}:${state.events.length}`;
    if (!force && key === shownEvents) return;
    shownEvents = key;
    const ol = $("events");
    const fresh = document.createElement("ol");
    fresh.id = "events";
    for (const ev of list) {
      const li = document.createElement("li");
      li.textContent = ev._text;
      li.dataset.type = ev.type;
      li.dataset.t = String(ev.t);
      if (ev.type === "level") li.className = `lv${ev.level}`;
      fresh.appendChild(li);
    }
    ol.replaceWith(fresh);
  }

  function show(frame) {
    state.frame = frame;
    state.frames += 1;
    if (!state.origin && frame.tracks.length) {
      let lat = 0, lon = 0;
      for (const t of frame.tracks) { lat += t.lat; lon += t.lon; }
      setOrigin(lat / frame.tracks.length, lon / frame.tracks.length);
    }
    if (mode === "live") {
      for (const t of frame.tracks) {
        let trail = state.trails.get(t.n);
        if (!trail) state.trails.set(t.n, (trail = []));
        const last = trail[trail.length - 1];
        const ft = t.ft ?? frame.t - t.age; // the fix's time: the page is told its age
        if (!last || ft > last[0] + 0.99) trail.push([ft, t.lat, t.lon]);
        while (trail.length && (trail.length > TRAIL_POINTS || trail[0][0] < frame.t - TRAIL_S)) trail.shift();
      }
      if (state.trails.size > frame.tracks.length) {
        const names = new Set(frame.tracks.map((t) => t.n));
        for (const n of state.trails.keys()) if (!names.has(n)) state.trails.delete(n);
      }
    }
    if (!state.view.user) fit();
    renderPairs(frame);
    renderBoards(frame);
    renderSources(frame);
    renderEvents(false);
    $("clock").textContent = frame.t ? hms(frame.t) : "";
    requestDraw();
  }

  // ---- no live data --------------------------------------------------------------------------

  function setNoData(on, why) {
    if (state.noData === on && state.noDataWhy === (why || "") && $("status").textContent) return;
    state.noData = on;
    state.noDataWhy = why || "";
    $("nodata").hidden = !on;
    $("nodata-why").textContent = why || "";
    const st = $("status");
    st.textContent = on ? "NO LIVE DATA" : "live";
    st.className = on ? "status down" : "status live";
  }

  // ---- live ----------------------------------------------------------------------------------

  let retryMs = 500;
  let socket = null;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const path = location.pathname.replace(/[^/]*$/, "");
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}${path}ws`);
    } catch (err) {
      setTimeout(connect, retryMs);
      return;
    }
    socket = ws;
    ws.onopen = () => {
      state.connected = true;
      state.lastFrameWall = performance.now(); // the first picture is due within NO_DATA_S from now
      state.everConnected = true;
      retryMs = 500;
    };
    ws.onmessage = (msg) => {
      const t0 = performance.now();
      let data;
      try {
        data = JSON.parse(msg.data);
      } catch (err) {
        return;
      }
      if (data.type === "hello") {
        if (data.run !== state.run) {
          // Another daemon (or a restart): nothing of the old picture carries over.
          state.run = data.run;
          state.trails = new Map();
          state.origin = null;
          state.view.user = false;
        }
        state.config = data.config || {};
        state.events = (data.events || []).slice(-MAX_EVENTS);
        for (const [name, pts] of Object.entries(data.trails || {})) state.trails.set(name, pts);
        renderEvents(true);
        if (state.config.attribution) $("legend").textContent = `map: ${state.config.attribution} · vectors: ${VECTOR_S} s`;
      } else if (data.type === "frame") {
        if (data.events && data.events.length) {
          state.events.push(...data.events);
          if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
        }
        state.lastFrameWall = performance.now();
        setNoData(false);
        show(data);
      }
      state.handlerMs += performance.now() - t0;
    };
    ws.onclose = () => {
      state.connected = false;
      socket = null;
      setNoData(true, state.everConnected ? "connection to the monitor lost — reconnecting" : "cannot reach the monitor — retrying");
      setTimeout(connect, retryMs);
      retryMs = Math.min(3000, retryMs * 2);
    };
    ws.onerror = () => {};
  }

  function watchdog() {
    if (mode !== "live") return;
    const idle = (performance.now() - state.lastFrameWall) / 1000;
    if (state.connected && idle > NO_DATA_S) {
      setNoData(true, Number.isFinite(idle) ? `no update from the monitor for ${Math.round(idle)} s` : "waiting for the first picture");
      if (idle > 3 * NO_DATA_S && socket) socket.close(); // a half-open connection: start over
    }
  }

  // ---- playback ------------------------------------------------------------------------------

  let recording = null;
  function recordingHasTracks() {
    return recording && Object.keys(recording.tracks).length > 0;
  }

  function lastAtOrBefore(ts, t) {
    let lo = 0, hi = ts.length - 1, ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ts[mid] <= t) { ans = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return ans;
  }

  function pictureAt(t) {
    const rec = recording;
    const tracks = [];
    for (const [name, tr] of Object.entries(rec.tracks)) {
      const i = lastAtOrBefore(tr.t, t);
      if (i < 0) continue;
      const age = t - tr.t[i];
      let ve = 0, vn = 0;
      if (i > 0 && tr.t[i] - tr.t[i - 1] > 0 && tr.t[i] - tr.t[i - 1] <= 10 && state.origin) {
        const [x0, y0] = local(tr.lat[i - 1], tr.lon[i - 1]);
        const [x1, y1] = local(tr.lat[i], tr.lon[i]);
        const dt = tr.t[i] - tr.t[i - 1];
        ve = (x1 - x0) / dt;
        vn = (y1 - y0) / dt;
      }
      const st = age > rec.stale_s ? "lost" : age > rec.stale_after_s ? "stale" : "ok";
      tracks.push({ n: name, lat: tr.lat[i], lon: tr.lon[i], alt: tr.alt[i], ve, vn, age, state: st, ft: tr.t[i] });
    }
    const pairs = [];
    for (const p of rec.pairs) {
      const i = lastAtOrBefore(p.t, t);
      if (i < 0) continue;
      const ev = p.events[i];
      if (!ev.level) continue;
      pairs.push({ a: p.a, b: p.b, level: ev.level, range: ev.range_m, vert: ev.vertical_m, tcpa: ev.tcpa_s, cpa: ev.cpa_m, lost: ev.lost, asof: ev.t });
    }
    return { t, minima: rec.minima, tracks, pairs, boards: null, sources: rec.sources, sources_note: "counters at the end of the recording" };
  }

  let playT = 0;
  let playing = false;
  let lastWall = 0;
  function seek(t) {
    const rec = recording;
    playT = Math.max(rec.t0, Math.min(rec.t1, t));
    const span = rec.t1 - rec.t0 || 1;
    $("slider").value = String(((playT - rec.t0) / span) * 1000);
    $("ptime").textContent = `${hms(playT)}  (+${secs(playT - rec.t0)})`;
    $("cursor").style.left = `${((playT - rec.t0) / span) * 100}%`;
    const t0 = performance.now();
    show(pictureAt(playT));
    state.handlerMs += performance.now() - t0;
  }

  function tickPlay(now) {
    if (!playing) return;
    const dt = (now - lastWall) / 1000;
    lastWall = now;
    seek(playT + dt * Number($("speed").value));
    if (playT >= recording.t1) setPlaying(false);
    else requestAnimationFrame(tickPlay);
  }

  function setPlaying(on) {
    playing = on;
    $("play").textContent = on ? "pause" : "play";
    if (on) {
      if (playT >= recording.t1) seek(recording.t0);
      lastWall = performance.now();
      requestAnimationFrame(tickPlay);
    }
  }

  function buildTimeline() {
    const rec = recording;
    const span = rec.t1 - rec.t0 || 1;
    const box = $("timeline");
    for (const p of rec.pairs) {
      const rowEl = document.createElement("div");
      rowEl.className = "row";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = `${p.a} ↔ ${p.b}`;
      rowEl.appendChild(name);
      for (let i = 0; i < p.events.length; i++) {
        const ev = p.events[i];
        if (!ev.level) continue;
        const end = i + 1 < p.events.length ? p.events[i + 1].t : rec.t1;
        const seg = document.createElement("div");
        seg.className = `seg lv${ev.level}`;
        seg.dataset.a = p.a;
        seg.dataset.b = p.b;
        seg.dataset.level = String(ev.level);
        seg.dataset.t0 = String(ev.t);
        seg.dataset.t1 = String(end);
        seg.title = `${p.a} ↔ ${p.b} ${LEVEL_NAMES[ev.level]} ${hms(ev.t)}–${hms(end)}`;
        seg.style.left = `${((ev.t - rec.t0) / span) * 100}%`;
        seg.style.width = `${Math.max(0.2, ((end - ev.t) / span) * 100)}%`;
        rowEl.appendChild(seg);
      }
      box.appendChild(rowEl);
    }
    if (!rec.pairs.length) {
      const rowEl = document.createElement("div");
      rowEl.className = "row";
      rowEl.textContent = "no alert in this recording";
      box.appendChild(rowEl);
    }
    const cursor = document.createElement("div");
    cursor.className = "cursor";
    cursor.id = "cursor";
    box.appendChild(cursor);
    box.addEventListener("click", (e) => {
      const r = box.getBoundingClientRect();
      seek(rec.t0 + ((e.clientX - r.left) / r.width) * span);
    });
  }

  function startPlayback() {
    recording = JSON.parse($("recording").textContent);
    const rec = recording;
    for (const p of rec.pairs) p.t = p.events.map((e) => e.t);
    state.events = rec.events;
    setNoData(false);
    $("status").textContent = "playback";
    $("status").className = "status";
    $("playback").hidden = false;
    if (rec.lacks && rec.lacks.length) {
      $("lacks").hidden = false;
      $("lacks").textContent = rec.lacks.join(" ");
    }
    // The local frame is centred on the whole recording, so the picture does not jump.
    const names = Object.keys(rec.tracks);
    if (names.length) {
      let lat = 0, lon = 0, n = 0;
      for (const name of names) {
        const tr = rec.tracks[name];
        for (let i = 0; i < tr.t.length; i += Math.max(1, Math.floor(tr.t.length / 50))) { lat += tr.lat[i]; lon += tr.lon[i]; n++; }
      }
      setOrigin(lat / n, lon / n);
    }
    buildTimeline();
    $("slider").addEventListener("input", () => seek(rec.t0 + (Number($("slider").value) / 1000) * (rec.t1 - rec.t0)));
    $("play").addEventListener("click", () => setPlaying(!playing));
    state.seek = seek;
    state.setPlaying = setPlaying;
    state.recording = rec;
    seek(rec.t0);
    if (names.length) {
      // Fit the whole recording once, then leave the view alone.
      const all = { t: rec.t1, minima: rec.minima, tracks: [], pairs: [] };
      for (const name of names) {
        const tr = rec.tracks[name];
        for (const i of [0, tr.t.length - 1]) all.tracks.push({ n: name, lat: tr.lat[i], lon: tr.lon[i] });
      }
      const keep = state.frame;
      state.frame = all;
      fit();
      state.frame = keep;
      state.view.user = true;
      requestDraw();
    }
  }

  // ---- interaction ---------------------------------------------------------------------------

  function zoom(factor, sx, sy) {
    const v = state.view;
    const x = v.cx + (sx - W / 2) / v.scale;
    const y = v.cy - (sy - H / 2) / v.scale;
    v.scale = Math.max(1e-5, Math.min(50, v.scale * factor));
    v.cx = x - (sx - W / 2) / v.scale;
    v.cy = y + (sy - H / 2) / v.scale;
    v.user = true;
    requestDraw();
  }

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.view.cx -= (e.clientX - drag.x) / state.view.scale;
    state.view.cy += (e.clientY - drag.y) / state.view.scale;
    drag = { x: e.clientX, y: e.clientY };
    state.view.user = true;
    requestDraw();
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  $("zoom-in").addEventListener("click", () => zoom(1.5, W / 2, H / 2));
  $("zoom-out").addEventListener("click", () => zoom(1 / 1.5, W / 2, H / 2));
  $("fit").addEventListener("click", () => {
    state.view.user = mode === "playback";
    fit();
    requestDraw();
  });
  $("ev-filter").addEventListener("input", () => renderEvents(true));
  $("ev-type").addEventListener("change", () => renderEvents(true));
  new ResizeObserver(resize).observe(canvas);
  resize();

  if (mode === "playback") {
    startPlayback();
  } else {
    setNoData(true, "connecting to the monitor…");
    connect();
    setInterval(watchdog, 250);
  }
})();
