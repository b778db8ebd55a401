// Alarms: the live list with severity, state and filters; a chosen alarm's
// transitions (each with its actor) and comments; acknowledge, assign,
// comment and clear for operators.

import { live } from "./api.js";
import { SEVERITIES, badge, debounce, fmtTime, h, loading, problemBox, table, toast } from "./ui.js";

const STATES = ["ACTIVE_UNACK", "ACTIVE_ACK", "CLEARED_UNACK", "CLEARED_ACK"];

function select(label, options, value, onchange) {
  const id = "f-" + label.toLowerCase().replace(/\W+/g, "-");
  return h("span", { class: "filter" }, h("label", { for: id }, label),
    h("select", { id, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h("option", { value: v, selected: v === value || undefined }, text))));
}

/** `binding:{id}/{plugin}@{version}` reads as the rule's name; people and
 * the host as they are. */
function actor(text) {
  const rule = /^binding:[^/]+\/(.+)$/.exec(text);
  return rule ? `rule ${rule[1]}` : text;
}

function detail(box, alarm, { api, can, names, reload }) {
  const events = h("div", {}, loading());
  const comments = h("div", {}, loading());
  const error = h("div", { "aria-live": "assertive" });
  const act = async (path, body, done) => {
    error.replaceChildren();
    try {
      const change = await api(`/api/alarms/${alarm.id}/${path}`, { method: "POST", body });
      toast(done);
      reload(change && change.alarm ? change.alarm.id : alarm.id);
    } catch (e) { error.replaceChildren(problemBox(e)); }
  };
  const assignee = h("input", { type: "text", maxlength: 200, value: alarm.assignee || "", "aria-label": "Assignee" });
  const comment = h("textarea", { maxlength: 4000, rows: 2, "aria-label": "Comment" });
  const active = alarm.status.startsWith("ACTIVE");
  const unacked = alarm.status.endsWith("UNACK");
  box.replaceChildren(
    h("h2", { id: "detail-h" }, `${alarm.alarm_type} on ${names[alarm.well_id] || alarm.device_id}`),
    h("p", {}, badge(alarm.severity), " ", badge(alarm.status), ` since ${fmtTime(alarm.start_ts)}`,
      alarm.assignee ? ` · assigned to ${alarm.assignee}` : ""),
    can.operate ? h("div", { class: "actions" },
      unacked ? h("button", { type: "button", class: "primary", "data-action": "ack", onclick: () => act("ack", undefined, "Acknowledged") }, "Acknowledge") : null,
      active ? h("button", { type: "button", "data-action": "clear", onclick: () => act("clear", undefined, "Cleared") }, "Clear") : null,
      h("span", { class: "inline" }, assignee, h("button", { type: "button", "data-action": "assign",
        onclick: () => act("assign", { assignee: assignee.value.trim() || null }, "Assignment saved") }, "Assign"))) : null,
    error,
    h("h3", {}, "Events"), events,
    h("h3", {}, "Comments"), comments,
    can.operate ? h("form", { class: "inline", onsubmit: (e) => {
      e.preventDefault();
      if (comment.value.trim()) act("comments", { text: comment.value.trim() }, "Comment added");
    } }, comment, h("button", { type: "submit" }, "Comment")) : null);
  api(`/api/alarms/${alarm.id}/events`).then((list) => events.replaceChildren(h("ol", { class: "steps" },
    list.map((e) => h("li", { "data-event": e.action }, h("strong", {}, e.action.replace(/_/g, " ").toLowerCase()), " ",
      badge(e.status), " ", badge(e.severity), h("br"), h("span", { class: "muted" }, fmtTime(e.ts), " by "),
      h("span", { class: "actor", title: e.actor }, actor(e.actor)))))))
    .catch((e) => events.replaceChildren(problemBox(e)));
  api(`/api/alarms/${alarm.id}/comments`).then((list) => comments.replaceChildren(list.length ? h("ul", { class: "comments" },
    list.map((c) => h("li", {}, h("span", { class: "muted" }, `${fmtTime(c.ts)} ${c.actor}: `), c.text))) : h("p", { class: "muted" }, "No comments.")))
    .catch((e) => comments.replaceChildren(problemBox(e)));
}

export async function render(main, { api, can, signal }) {
  const filters = { active: "true", severity: "", status: "" };
  const listBox = h("div", { class: "alarm-list" }, loading());
  const detailBox = h("section", { class: "alarm-detail", "aria-labelledby": "detail-h" },
    h("p", { class: "muted" }, "Choose an alarm to see its events and act on it."));
  let chosen = null;
  const reload = (id) => { if (id) chosen = id; load(); };
  main.append(h("h1", {}, "Alarms"),
    h("div", { class: "toolbar" },
      select("Show", [["true", "Active"], ["false", "Cleared"], ["", "All"]], filters.active, (v) => { filters.active = v; load(); }),
      select("Severity", [["", "Any"], ...SEVERITIES.map((s) => [s, s.toLowerCase()])], "", (v) => { filters.severity = v; load(); }),
      select("State", [["", "Any"], ...STATES.map((s) => [s, s.replace(/_/g, " ").toLowerCase()])], "", (v) => { filters.status = v; load(); })),
    h("div", { class: "split" }, listBox, detailBox));
  const wells = await api("/api/wells?limit=1000", { signal }).catch(() => []);
  const names = Object.fromEntries(wells.map((w) => [w.id, w.name]));
  async function load() {
    const q = new URLSearchParams({ limit: "200" });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    try {
      const alarms = await api("/api/alarms?" + q, { signal });
      listBox.replaceChildren(table(["Severity", "Type", "Well", "State", "Started", "Assignee"],
        alarms.map((a) => {
          const row = h("tr", { tabindex: 0, class: a.id === chosen ? "chosen" : "", "data-alarm": a.id, "aria-selected": String(a.id === chosen),
            onclick: () => { chosen = a.id; for (const r of listBox.querySelectorAll("tr")) { r.classList.remove("chosen"); r.setAttribute("aria-selected", "false"); } row.classList.add("chosen"); row.setAttribute("aria-selected", "true"); detail(detailBox, a, { api, can, names, reload }); },
            onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); row.click(); } } },
          h("td", {}, badge(a.severity)), h("td", {}, a.alarm_type), h("td", {}, names[a.well_id] || "—"),
          h("td", {}, badge(a.status)), h("td", {}, fmtTime(a.start_ts)), h("td", {}, a.assignee || "—"));
          return row;
        }), "No alarms match."));
      const current = alarms.find((a) => a.id === chosen);
      if (current) detail(detailBox, current, { api, can, names, reload });
    } catch (e) { if (!signal.aborted) listBox.replaceChildren(problemBox(e, load)); }
  }
  await load();
  const again = debounce(load, 700);
  live({ types: "events" }, (event, item) => { if (item.type === "alarm") again(); }, signal);
}
