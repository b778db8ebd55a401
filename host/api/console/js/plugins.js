// Plugins and bindings, for tenant admins: upload a component (the
// validator's reason shown as the API gives it), bind it with a form made
// from the plugin's JSON Schema, each binding's metering, quarantine and
// re-enable, and the dead letters.

import { badge, fmtNum, fmtTime, h, loading, problemBox, section, table, toast } from "./ui.js";

const KINDS = ["decoder", "alarm-rule", "optimizer", "transform", "field-optimizer", "forecaster"];
const SCHEDULED = ["optimizer", "field-optimizer", "forecaster"];

/** A field per top-level property of the schema; objects and arrays as JSON. */
function schemaForm(schema) {
  const props = (schema && schema.properties) || {};
  const required = new Set((schema && schema.required) || []);
  const fields = Object.entries(props).map(([name, p]) => {
    const id = "cfg-" + name;
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== "null") : p.type;
    let input;
    if (Array.isArray(p.enum)) input = h("select", { id }, p.enum.map((v) => h("option", { value: JSON.stringify(v), selected: v === p.default || undefined }, String(v))));
    else if (type === "boolean") input = h("input", { id, type: "checkbox", checked: p.default === true || undefined });
    else if (type === "number" || type === "integer") input = h("input", { id, type: "number", step: type === "integer" ? 1 : "any", min: p.minimum, max: p.maximum, value: p.default, required: required.has(name) || undefined });
    else if (type === "string") input = h("input", { id, type: "text", value: p.default, required: required.has(name) || undefined });
    else input = h("textarea", { id, rows: 3, "data-json": true }, p.default !== undefined ? JSON.stringify(p.default) : "");
    return { name, type, input, el: h("div", { class: "field" }, h("label", { for: id }, name, required.has(name) ? " *" : ""), input,
      p.description ? h("small", {}, p.description) : null) };
  });
  const read = () => {
    const config = {};
    for (const f of fields) {
      const i = f.input;
      if (i.type === "checkbox") { config[f.name] = i.checked; continue; }
      if (i.tagName === "SELECT") { config[f.name] = JSON.parse(i.value); continue; }
      if (i.value === "") continue;
      if (f.type === "number" || f.type === "integer") config[f.name] = Number(i.value);
      else if (i.dataset.json !== undefined) {
        try { config[f.name] = JSON.parse(i.value); } catch { throw { title: "Not JSON", detail: `${f.name} must be JSON.` }; }
      } else config[f.name] = i.value;
    }
    return config;
  };
  return { fields: fields.map((f) => f.el), read };
}

function uploadForm(api, done) {
  const file = h("input", { id: "up-file", type: "file", accept: ".wasm,application/wasm", required: true });
  const kind = h("select", { id: "up-kind" }, KINDS.map((k) => h("option", { value: k }, k)));
  const name = h("input", { id: "up-name", type: "text", pattern: "[a-z][a-z0-9-]{0,63}", required: true, placeholder: "alarm-rule-threshold" });
  const version = h("input", { id: "up-version", type: "text", required: true, value: "0.1.0" });
  const result = h("div", { "aria-live": "assertive", id: "upload-result" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  return h("form", { class: "card", "aria-labelledby": "up-h", onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren(loading("Uploading and validating…"));
    submit.disabled = true;
    try {
      const bytes = await file.files[0].arrayBuffer();
      const q = new URLSearchParams({ kind: kind.value, name: name.value.trim(), version: version.value.trim() });
      const p = await api("/api/plugins?" + q, { method: "POST", raw: bytes });
      result.replaceChildren(h("p", { class: "ok" }, `Stored ${p.name} ${p.version} (${p.kind}, contract ${p.contract}).`));
      toast("Plugin uploaded");
      done();
    } catch (err) { result.replaceChildren(problemBox(err)); } finally { submit.disabled = false; }
  } },
  h("h2", { id: "up-h" }, "Upload a component"),
  h("div", { class: "field" }, h("label", { for: "up-file" }, "Component (.wasm)"), file),
  h("div", { class: "field" }, h("label", { for: "up-kind" }, "Kind"), kind),
  h("div", { class: "field" }, h("label", { for: "up-name" }, "Name"), name),
  h("div", { class: "field" }, h("label", { for: "up-version" }, "Version"), version),
  submit, result);
}

function bindForm(api, plugins, devices, done) {
  const box = h("div", {});
  const result = h("div", { "aria-live": "assertive" });
  const plugin = h("select", { id: "bind-plugin", onchange: () => fill() },
    h("option", { value: "" }, "Choose a plugin…"), plugins.map((p) => h("option", { value: p.id }, `${p.name} ${p.version} (${p.kind})`)));
  const deviceBoxes = devices.map((d) => h("label", { class: "check" }, h("input", { type: "checkbox", value: d.id }), d.name));
  const schedule = h("input", { id: "bind-schedule", type: "number", min: 1000, step: 1000, placeholder: "60000" });
  let form = null;
  const fill = () => {
    const p = plugins.find((x) => x.id === plugin.value);
    form = p ? schemaForm(p.info.config_schema) : null;
    box.replaceChildren(...(p ? [h("p", { class: "muted" }, p.info.description), ...form.fields,
      SCHEDULED.includes(p.kind) ? h("div", { class: "field" }, h("label", { for: "bind-schedule" }, "Run every (ms)"), schedule) : null] : []));
  };
  return h("form", { class: "card", "aria-labelledby": "bind-h", onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      if (!form) throw { title: "Choose a plugin" };
      const body = { plugin_id: plugin.value, device_ids: deviceBoxes.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value), config: form.read() };
      if (schedule.value) body.schedule_ms = Number(schedule.value);
      await api("/api/bindings", { method: "POST", body });
      toast("Binding created");
      done();
    } catch (err) { result.replaceChildren(problemBox(err)); }
  } },
  h("h2", { id: "bind-h" }, "Bind a plugin"),
  h("div", { class: "field" }, h("label", { for: "bind-plugin" }, "Plugin"), plugin), box,
  h("fieldset", { class: "keys" }, h("legend", {}, "Devices"), deviceBoxes.length ? deviceBoxes : h("span", { class: "muted" }, "No devices.")),
  h("button", { type: "submit", class: "primary" }, "Bind"), result);
}

export async function render(main, { api, can, signal }) {
  main.append(h("h1", {}, "Plugins & bindings"));
  if (!can.admin) { main.append(h("p", { class: "notice" }, "Plugins and bindings are for tenant admins.")); return; }
  const lists = h("div", {}, loading());
  const forms = h("div", { class: "forms" });
  const dead = h("div", {});
  main.append(forms, lists, h("h2", {}, "Dead letters"), dead);
  async function load() {
    try {
      const [plugins, bindings, metering, devices] = await Promise.all([
        api("/api/plugins?limit=1000", { signal }), api("/api/bindings?limit=1000", { signal }),
        api("/api/metering", { signal }), api("/api/devices?limit=1000", { signal })]);
      const byId = Object.fromEntries(plugins.map((p) => [p.id, p]));
      const meter = Object.fromEntries(metering.map((m) => [m.binding_id, m]));
      forms.replaceChildren(uploadForm(api, load), bindForm(api, plugins, devices, load));
      lists.replaceChildren(
        h("h2", {}, "Plugins"),
        table(["Name", "Kind", "Version", "Contract", "Size", "Hash", "Uploaded"], plugins.map((p) => h("tr", { "data-plugin": p.name },
          h("td", {}, p.name), h("td", {}, p.kind), h("td", {}, p.version), h("td", {}, p.contract),
          h("td", { class: "num" }, `${fmtNum(p.size_bytes / 1024, 0)} KiB`), h("td", {}, h("code", {}, p.hash.slice(0, 12))),
          h("td", {}, fmtTime(p.created_time)))), "No plugins yet."),
        h("h2", {}, "Bindings"),
        table(["Plugin", "Devices", "Schedule", "State", "Calls", "Faults", "Rejections", "Mean call", ""], bindings.map((b) => {
          const m = meter[b.id] || {};
          const stopped = !b.enabled || b.quarantine_reason || Object.keys(b.quarantined_devices).length;
          return h("tr", { "data-binding": b.id },
            h("td", {}, byId[b.plugin_id] ? byId[b.plugin_id].name : b.plugin_id), h("td", { class: "num" }, b.device_ids.length),
            h("td", {}, b.schedule_ms ? `${b.schedule_ms / 1000} s` : "—"),
            h("td", {}, b.quarantine_reason ? [badge("quarantined", "critical"), h("small", {}, " " + b.quarantine_reason)]
              : !b.enabled ? badge("disabled", "warning")
                : Object.keys(b.quarantined_devices).length ? badge(`${Object.keys(b.quarantined_devices).length} devices stopped`, "major") : badge("running", "ok")),
            h("td", { class: "num" }, fmtNum(m.calls ?? 0, 0)), h("td", { class: "num" }, fmtNum(m.faults ?? 0, 0)),
            h("td", { class: "num" }, fmtNum(m.rejections ?? 0, 0)),
            h("td", { class: "num" }, m.calls ? `${fmtNum(m.wall_us / m.calls / 1000, 2)} ms` : "—"),
            h("td", {}, stopped ? h("button", { type: "button", onclick: async (e) => {
              try { await api(`/api/bindings/${b.id}/enable`, { method: "POST" }); toast("Binding re-enabled"); load(); }
              catch (err) { e.target.after(problemBox(err)); }
            } }, "Re-enable") : null));
        }), "No bindings yet."));
    } catch (e) { if (!signal.aborted) lists.replaceChildren(problemBox(e, load)); }
    section(dead, () => api("/api/dead-letters?limit=50", { signal }), (list) => table(["When", "Stage", "Code", "Reason", "Device"],
      list.map((d) => h("tr", {}, h("td", {}, fmtTime(d.ts)), h("td", {}, d.stage), h("td", {}, h("code", {}, d.error_code)),
        h("td", {}, d.error), h("td", {}, d.device_id || "—"))), "No dead letters."));
  }
  await load();
}
