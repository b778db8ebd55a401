// The field map: wellpads and wells at their coordinates (the well's static
// data `latitude` and `longitude`, as ThingsBoard's map widgets read them)
// on a plain background, each well coloured by its worst active alarm;
// a well links to its view. A table lists the same wells for keyboards and
// screen readers, and the wells without coordinates.

import { live } from "./api.js";
import { badge, debounce, h, problemBox, loading, severityRank, table } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg"; // a namespace name, not a request
const W = 1000, H = 560, PAD = 110;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function coordinates(well) {
  const d = well.static_data || {};
  const lat = Number(d.latitude), lon = Number(d.longitude);
  return isFinite(lat) && isFinite(lon) && d.latitude !== undefined && d.longitude !== undefined ? { lat, lon } : null;
}

async function load(api) {
  const [wells, alarms] = await Promise.all([
    api("/api/wells?limit=1000"),
    api("/api/alarms?active=true&limit=1000"),
  ]);
  const padIds = [...new Set(wells.map((w) => w.wellpad_id).filter(Boolean))];
  const pads = Object.fromEntries(await Promise.all(padIds.map(async (id) => [id, await api(`/api/wellpads/${id}`)])));
  const worst = {};
  for (const a of alarms) {
    if (!a.well_id) continue;
    if (!worst[a.well_id] || severityRank(a.severity) < severityRank(worst[a.well_id])) worst[a.well_id] = a.severity;
  }
  return { wells, pads, worst };
}

function draw({ wells, pads, worst }) {
  const placed = wells.map((w) => ({ w, c: coordinates(w) })).filter((x) => x.c);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Map of the field's wells", class: "map" });
  if (placed.length) {
    const lats = placed.map((p) => p.c.lat), lons = placed.map((p) => p.c.lon);
    const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2;
    const k = Math.cos((lat0 * Math.PI) / 180);
    const xs = lons.map((x) => x * k), spanX = Math.max(...xs) - Math.min(...xs) || 1e-3;
    const spanY = Math.max(...lats) - Math.min(...lats) || 1e-3;
    const scale = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
    const x0 = (W - scale * spanX) / 2, y0 = (H - scale * spanY) / 2;
    const minX = Math.min(...xs), maxLat = Math.max(...lats);
    const at = (c) => [x0 + (c.lon * k - minX) * scale, y0 + (maxLat - c.lat) * scale];
    // Each well at its coordinates; a wellpad's wells, metres apart, would
    // sit on one another at field scale: they are drawn on a ring around
    // the pad's centre instead, in name order (a schematic, as SCADA maps do).
    const pos = new Map(placed.map((p) => [p.w.id, at(p.c)]));
    const byPad = {};
    for (const p of placed) if (p.w.wellpad_id) (byPad[p.w.wellpad_id] ||= []).push(p.w);
    const rings = [];
    for (const [id, members] of Object.entries(byPad)) {
      const points = members.map((w) => pos.get(w.id));
      const cx = points.reduce((a, p) => a + p[0], 0) / points.length;
      const cy = points.reduce((a, p) => a + p[1], 0) / points.length;
      const spread = Math.max(...points.map((p) => Math.hypot(p[0] - cx, p[1] - cy)));
      let r = spread + 30;
      if (members.length > 1 && spread < 12 * members.length) {
        const ring = Math.max(34, 9 * members.length);
        [...members].sort((a, b) => a.name.localeCompare(b.name)).forEach((w, i) => {
          const angle = -Math.PI / 2 + (i * 2 * Math.PI) / members.length;
          pos.set(w.id, [cx + ring * Math.cos(angle), cy + ring * Math.sin(angle)]);
        });
        r = ring + 34;
      }
      rings.push({ id, cx, cy, r });
    }
    for (const { id, cx, cy, r } of rings) {
      svg.append(s("circle", { cx, cy, r, class: "pad" }),
        s("text", { x: cx, y: cy - r - 8, class: "pad-label", "text-anchor": "middle" }, pads[id] ? pads[id].name : id));
    }
    for (const p of placed) {
      const [x, y] = pos.get(p.w.id);
      const sev = worst[p.w.id];
      const pad = rings.find((g) => g.id === p.w.wellpad_id);
      // The label away from the pad's centre.
      const dx = pad ? x - pad.cx : 0, dy = pad ? y - pad.cy : 1;
      const n = Math.hypot(dx, dy) || 1;
      const lx = x + (dx / n) * 20, ly = y + (dy / n) * 20 + 5;
      const anchor = Math.abs(dx / n) < 0.3 ? "middle" : dx > 0 ? "start" : "end";
      const link = s("a", { href: `#/wells/${p.w.id}`, "data-well": p.w.name, class: "well-mark",
        "aria-label": `${p.w.name}: ${sev ? sev.toLowerCase() + " alarm" : "no active alarm"}` },
      s("title", {}, `${p.w.name}${sev ? " — " + sev : ""}`),
      s("circle", { cx: x, cy: y, r: 10, class: "well sev-" + (sev || "none").toLowerCase() }),
      s("text", { x: lx, y: ly, "text-anchor": anchor, class: "well-label" }, p.w.name));
      svg.append(link);
    }
  } else {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "pad-label" },
      "No well has coordinates: set latitude and longitude in a well's static data."));
  }
  const legend = h("p", { class: "legend" }, "Worst active alarm: ",
    ["critical", "major", "minor", "warning", "none"].map((x) => h("span", { class: "key sev-" + x }, x)));
  const rows = [...wells].sort((a, b) => a.name.localeCompare(b.name)).map((w) => h("tr", {},
    h("td", {}, h("a", { href: `#/wells/${w.id}` }, w.name)),
    h("td", {}, w.wellpad_id && pads[w.wellpad_id] ? pads[w.wellpad_id].name : "—"),
    h("td", {}, worst[w.id] ? badge(worst[w.id]) : "none"),
    h("td", {}, coordinates(w) ? `${coordinates(w).lat.toFixed(4)}, ${coordinates(w).lon.toFixed(4)}` : "not on the map")));
  return [svg, legend, h("h2", {}, "Wells"), table(["Well", "Wellpad", "Worst active alarm", "Coordinates"], rows, "No wells yet.")];
}

export async function render(main, { api, signal }) {
  const box = h("div", {}, loading());
  main.append(h("h1", {}, "Field map"), box);
  const refresh = async () => {
    try { box.replaceChildren(...draw(await load(api))); } catch (e) { if (!signal.aborted) box.replaceChildren(problemBox(e, refresh)); }
  };
  await refresh();
  // An alarm transition recolours the map.
  const again = debounce(refresh, 1000);
  live({ types: "events" }, (event, item) => { if (item.type === "alarm") again(); }, signal);
}
