// Health: the host's readiness, the tenant's connectors, recent plugin
// faults, and the ingest rate the live stream sees.

import { live } from "./api.js";
import { badge, fmtNum, fmtTime, h, section, table } from "./ui.js";

export async function render(main, { api, signal }) {
  const ready = h("div", {}), rate = h("p", { class: "big", role: "status" }, "measuring…");
  const connectors = h("div", {}), faults = h("div", {});
  main.append(h("h1", {}, "Health"),
    h("div", { class: "cards" },
      h("section", { class: "card" }, h("h2", {}, "Host"), ready),
      h("section", { class: "card" }, h("h2", {}, "Ingest rate"), rate,
        h("small", {}, "Data points per second this tenant committed, over the last 10 s, as the live stream delivers them."))),
    h("h2", {}, "Connectors"), connectors, h("h2", {}, "Plugin faults"), faults);
  section(ready, async () => {
    const r = await fetch("/readyz", { signal });
    let body = {};
    try { body = await r.json(); } catch { body = {}; }
    return { ok: r.ok, checks: body.checks || [] };
  }, (r) => [h("p", {}, badge(r.ok ? "ready" : "not ready", r.ok ? "ok" : "critical")),
    table(["Check", "Status"], r.checks.map((c) => h("tr", {}, h("td", {}, c.name),
      h("td", {}, badge(c.status.replace(/-/g, " "), c.status === "ok" ? "ok" : c.status === "not-configured" ? "none" : "critical"),
        c.detail ? h("small", {}, " " + c.detail) : null))))]);
  section(connectors, () => api("/api/connectors?limit=1000", { signal }), (list) => table(
    ["Name", "Kind", "State", "Since", "Frames", "Refused", "Errors", "Restarts", "Last problem"],
    list.map((c) => {
      const st = c.status || {};
      const last = (st.problems || []).at(-1);
      return h("tr", {}, h("td", {}, c.name), h("td", {}, st.kind || (c.settings && c.settings.kind) || "—"),
        h("td", {}, badge(c.enabled ? st.state || "not started" : "disabled", st.state === "running" ? "ok" : "warning")),
        h("td", {}, st.since ? fmtTime(st.since) : "—"),
        ["frames", "refused", "errors", "restarts"].map((k) => h("td", { class: "num" }, fmtNum(st[k] ?? 0, 0))),
        h("td", {}, last ? [h("code", {}, last.code), ` ${last.reason} (${fmtTime(last.at)})`] : "—"));
    }), "No connectors: devices post over HTTP."));
  section(faults, () => api("/api/plugin-runs?limit=50", { signal }), (list) => table(["When", "Plugin", "Fault", "Detail", "Device"],
    list.map((r) => h("tr", {}, h("td", {}, fmtTime(r.ts)), h("td", {}, `${r.plugin} ${r.version}`),
      h("td", {}, h("code", {}, r.error_code)), h("td", {}, r.error), h("td", {}, r.device_id || "—"))), "No plugin faults."));
  const window10 = [];
  live({ types: "telemetry" }, (event, item) => {
    if (event !== "telemetry") return;
    const points = item.series.reduce((n, s) => n + s.ts.length, 0) + (item.omitted || 0);
    window10.push([Date.now(), points]);
  }, signal);
  const timer = setInterval(() => {
    const since = Date.now() - 10000;
    while (window10.length && window10[0][0] < since) window10.shift();
    const total = window10.reduce((n, x) => n + x[1], 0);
    rate.textContent = `${fmtNum(total / 10, 1)} points/s`;
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(timer));
}
