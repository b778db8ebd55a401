// The well view: live trends of chosen keys (zoom by dragging, range
// presets, one update a second from the live stream), an ESP's operating
// point on its pump's recommended range, the current setpoints, and the
// well's alarms and recommendations.

import { Problem, live } from "./api.js";
import { badge, debounce, fmtNum, fmtTime, h, loading, section, table, timeZone } from "./ui.js";
import { card } from "./recommendations.js";

const RANGES = [["15 min", 15], ["1 h", 60], ["6 h", 360], ["24 h", 1440]];
const PREFERRED = ["frequency", "flow_rate", "intake_pressure", "motor_current", "oil_rate", "gas_injection"];
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

/** When the well view first drew a trend (read by the browser test). */
function firstTrend(routeStart) {
  if (window.nexusFirstTrend) return;
  window.nexusFirstTrend = { sinceNavigationMs: performance.now(), sinceRouteMs: performance.now() - routeStart };
  performance.mark("nexus:first-trend");
}

export async function render(main, { params, api, can, signal }) {
  const routeStart = performance.now();
  const id = params[0];
  main.append(loading("Loading the well…"));
  const [wells, devices] = await Promise.all([api("/api/wells?limit=1000", { signal }), api("/api/devices?limit=1000", { signal })]);
  const well = wells.find((w) => w.id === id);
  if (!well) throw new Problem(404, { title: "No such well", detail: `This tenant has no well ${id}.`, code: "not-found" });
  const ownDevices = devices.filter((d) => d.well_id === id);
  const names = Object.fromEntries(wells.map((w) => [w.id, w.name]));
  let device = ownDevices[0];

  const trends = h("section", { "aria-labelledby": "trends-h" });
  const envelope = h("section", { "aria-labelledby": "env-h" });
  const setpoints = h("div", {}), alarms = h("div", {}), recs = h("div", {});
  main.replaceChildren(
    h("p", { class: "crumbs" }, h("a", { href: "#/map" }, "Field map"), " › ", well.name),
    h("h1", {}, well.name, " ", badge(well.status || "unknown", "status")),
    h("div", { class: "well-grid" },
      h("div", {}, trends, envelope),
      h("aside", {},
        h("h2", {}, "Setpoints"), setpoints,
        h("h2", {}, "Alarms"), alarms,
        h("h2", {}, "Recommendations"), recs)));
  if (!device) {
    trends.append(h("p", { class: "empty" }, "No device reports for this well yet."));
    return;
  }

  // --- side panels ---------------------------------------------------------
  const loadSide = () => {
    section(setpoints, () => api(`/api/devices/${device.id}/setpoints`, { signal }), (list) => table(
      ["Parameter", "Value", "Limits", "Read-back", "Source", "Changed"],
      list.map((s) => h("tr", { "data-setpoint": s.parameter },
        h("td", {}, s.parameter), h("td", { class: "num" }, `${fmtNum(s.value, 2)} ${s.unit}`),
        h("td", {}, s.min === null && s.max === null ? "none" : `${s.min ?? "—"} … ${s.max ?? "—"}`),
        h("td", {}, s.readback ? `${s.readback.key} ±${s.readback.tolerance}` : "—"),
        h("td", {}, s.source), h("td", {}, fmtTime(s.updated_at)))), "No setpoints."));
    section(alarms, () => api(`/api/alarms?well_id=${id}&limit=20`, { signal }), (list) => [table(
      ["Severity", "Type", "State", "Started"],
      list.map((a) => h("tr", {}, h("td", {}, badge(a.severity)), h("td", {}, a.alarm_type),
        h("td", {}, badge(a.status)), h("td", {}, fmtTime(a.start_ts)))), "No alarms."),
    h("p", {}, h("a", { href: "#/alarms" }, "All alarms →"))]);
    section(recs, () => api("/api/recommendations?limit=200", { signal }), (list) => {
      const own = list.filter((r) => r.well_id === id).slice(0, 5);
      return own.length ? own.map((r) => card(r, { api, can, names, onChange: loadSide })) : h("p", { class: "empty" }, "No recommendations.");
    });
  };
  loadSide();

  // --- trends --------------------------------------------------------------
  const latest = await api(`/api/devices/${device.id}/telemetry/latest`, { signal });
  const numeric = latest.filter((r) => typeof r.value === "number").map((r) => r.key);
  let chosen = PREFERRED.filter((k) => numeric.includes(k));
  if (!chosen.length) chosen = numeric.slice(0, 4);
  let minutes = 15;
  let follow = true;
  const buffers = {};
  const charts = {};
  const box = h("div", { class: "charts" });
  const state = h("span", { class: "live-state", role: "status" }, "connecting…");
  const rangeButtons = RANGES.map(([label, m]) => h("button", { type: "button", "aria-pressed": String(m === minutes),
    onclick: (e) => {
      minutes = m; follow = true;
      for (const b of rangeButtons) b.setAttribute("aria-pressed", String(b === e.currentTarget));
      loadHistory();
    } }, label));
  const keyBoxes = numeric.map((k) => h("label", { class: "check" },
    h("input", { type: "checkbox", value: k, checked: chosen.includes(k) || undefined,
      onchange: () => { chosen = keyBoxes.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value); loadHistory(); } }), k));
  const deviceSelect = ownDevices.length > 1 ? h("select", { "aria-label": "Device", onchange: (e) => {
    device = ownDevices.find((d) => d.id === e.target.value); loadSide(); loadHistory(); } },
  ownDevices.map((d) => h("option", { value: d.id }, d.name))) : null;
  trends.append(
    h("h2", { id: "trends-h" }, "Trends ", state),
    h("div", { class: "toolbar" }, deviceSelect, h("span", { role: "group", "aria-label": "Range" }, rangeButtons),
      h("button", { type: "button", onclick: () => { follow = true; loadHistory(); } }, "Reset zoom")),
    h("fieldset", { class: "keys" }, h("legend", {}, "Keys"), keyBoxes),
    h("p", { class: "hint" }, "Drag across a chart to zoom; times in ", timeZone(), "."), box);

  const width = () => Math.max(280, (box.clientWidth || 800) - 8);
  const makeChart = (key, i) => {
    const el = h("div", { class: "chart", "data-key": key });
    const u = new window.uPlot({
      width: width(), height: 150, title: key,
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), timeZone()),
      cursor: { sync: { key: "well-" + id }, drag: { x: true, y: false } },
      scales: { x: { time: true } },
      series: [{}, { label: key, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true, points: { show: false } }],
      hooks: {
        setSelect: [() => { follow = false; }],
        draw: [(u) => { if (u.data[0].length) { firstTrend(routeStart); el.dataset.points = String(u.data[0].length); } }],
      },
    }, [[], []], el);
    charts[key] = { u, el, dirty: false };
    return el;
  };

  async function loadHistory() {
    const keys = [...chosen];
    for (const c of Object.values(charts)) c.u.destroy();
    for (const k of Object.keys(charts)) delete charts[k];
    box.replaceChildren(...keys.map(makeChart));
    if (!keys.length) { box.append(h("p", { class: "empty" }, "Choose a key to trend.")); return; }
    const end = Date.now(), start = end - minutes * 60000;
    const interval = Math.max(1000, Math.ceil((end - start) / 900));
    try {
      const readings = await api(`/api/devices/${device.id}/telemetry?keys=${encodeURIComponent(keys.join(","))}` +
        `&start_ts=${start}&end_ts=${end + 1}&agg=AVG&interval=${interval}&limit=10000`, { signal });
      for (const k of keys) buffers[k] = { ts: [], v: [] };
      for (const r of readings) if (buffers[r.key] && typeof r.value === "number") { buffers[r.key].ts.push(r.ts / 1000); buffers[r.key].v.push(r.value); }
      for (const k of keys) if (charts[k]) { charts[k].u.setData([buffers[k].ts, buffers[k].v]); }
    } catch (e) {
      if (!signal.aborted) box.prepend(h("p", { class: "problem", role: "alert" }, `History could not be read: ${e.message}`));
    }
  }
  await loadHistory();

  // --- live ----------------------------------------------------------------
  const refreshSide = debounce(loadSide, 500);
  let point = null;
  live({ well_id: id, types: "telemetry,events" }, (event, item) => {
    if (event === "telemetry" && item.device_id === device.id) {
      for (const s of item.series) {
        if (s.values.type !== "number" && s.values.type !== "integer") continue;
        if (s.key === "flow_rate" || s.key === "frequency") point = { ...point, [s.key]: s.values.values.at(-1) };
        const b = buffers[s.key];
        if (!b || !charts[s.key]) continue;
        s.ts.forEach((t, i) => { if (!b.ts.length || t / 1000 > b.ts.at(-1)) { b.ts.push(t / 1000); b.v.push(s.values.values[i]); } });
        charts[s.key].dirty = true;
      }
    } else if (event === "event") refreshSide();
  }, signal, (st) => { state.textContent = st === "open" ? "● live" : "reconnecting…"; state.className = "live-state " + st; });

  const timer = setInterval(() => {
    const cutoff = Date.now() / 1000 - minutes * 60;
    for (const [k, c] of Object.entries(charts)) {
      if (!c.dirty || !follow) continue;
      const b = buffers[k];
      let drop = 0;
      while (drop < b.ts.length && b.ts[drop] < cutoff) drop++;
      if (drop) { b.ts.splice(0, drop); b.v.splice(0, drop); }
      c.u.setData([b.ts, b.v]);
      c.dirty = false;
    }
    if (point && envelopeChart) envelopeChart(point);
  }, 1000);
  const resize = debounce(() => { for (const c of Object.values(charts)) c.u.setSize({ width: width(), height: 150 }); }, 200);
  window.addEventListener("resize", resize);
  signal.addEventListener("abort", () => {
    clearInterval(timer);
    window.removeEventListener("resize", resize);
    for (const c of Object.values(charts)) c.u.destroy();
  });

  // --- ESP operating point --------------------------------------------------
  const envelopeChart = esp(envelope, well, latest);
}

/** An ESP's recommended flow range over its frequency range (affinity
 * laws: the range scales with frequency), and where the pump runs now. */
function esp(section, well, latest) {
  const d = well.static_data || {};
  const range = d.limits && d.limits.recommended_range_bpd;
  const base = d.pump && d.pump.base_frequency_hz;
  if (!Array.isArray(range) || !base) return null;
  const fmin = d.limits.min_frequency_hz ?? base * 0.7, fmax = d.limits.max_frequency_hz ?? base * 1.2;
  const now = Object.fromEntries(latest.map((r) => [r.key, r.value]));
  const el = h("div", { class: "chart", "data-chart": "esp-envelope" });
  const caption = h("p", { class: "hint" });
  section.append(h("h2", { id: "env-h" }, "ESP operating point"), caption, el);
  const data = (p) => {
    const fs = [];
    for (let f = fmin; f <= fmax + 1e-9; f += 0.5) fs.push(+f.toFixed(2));
    if (p.frequency && !fs.includes(+p.frequency.toFixed(2))) fs.push(+p.frequency.toFixed(2));
    fs.sort((a, b) => a - b);
    return [fs, fs.map((f) => range[0] * f / base), fs.map((f) => range[1] * f / base),
      fs.map((f) => (p.frequency && f === +p.frequency.toFixed(2) ? p.flow_rate : null))];
  };
  const u = new window.uPlot({
    width: 420, height: 240, title: "Flow vs drive frequency",
    scales: { x: { time: false } },
    axes: [{ label: "Hz" }, { label: "bbl/d" }],
    series: [{ label: "Hz" },
      { label: "min recommended", stroke: "#999", dash: [4, 4] },
      { label: "max recommended", stroke: "#999", dash: [4, 4] },
      { label: "now", stroke: "#d62728", width: 0, points: { show: true, size: 10, fill: "#d62728" } }],
  }, data({}), el);
  const update = (p) => {
    const merged = { frequency: p.frequency ?? now.frequency, flow_rate: p.flow_rate ?? now.flow_rate };
    if (typeof merged.frequency !== "number" || typeof merged.flow_rate !== "number") return;
    u.setData(data(merged));
    const lo = range[0] * merged.frequency / base, hi = range[1] * merged.frequency / base;
    const inside = merged.flow_rate >= lo && merged.flow_rate <= hi;
    caption.replaceChildren(`${fmtNum(merged.flow_rate, 0)} bbl/d at ${fmtNum(merged.frequency, 2)} Hz: `,
      inside ? h("strong", { class: "ok" }, "inside") : h("strong", { class: "bad" }, "outside"),
      ` the recommended ${fmtNum(lo, 0)}–${fmtNum(hi, 0)} bbl/d at this frequency.`);
  };
  update({});
  return update;
}
