// Recommendations: what optimizers propose, with rationale, expected gain
// and the interlocks' verdict; operators approve or reject (with a reason)
// and follow the change to CONFIRMED (or FAILED / TIMED_OUT) as the host
// sends it and the well's telemetry reads it back.

import { live } from "./api.js";
import { badge, debounce, fmtNum, fmtTime, h, loading, problemBox, toast } from "./ui.js";

const OPEN = ["PROPOSED", "APPROVED", "SENT"];

function transitions(box, rec, api) {
  box.replaceChildren(loading("Loading its history…"));
  api(`/api/recommendations/${rec.id}/transitions`).then((list) => {
    box.replaceChildren(list.length ? h("ol", { class: "steps", "aria-label": "History" },
      list.map((t) => h("li", { "data-to": t.to }, badge(t.to), ` ${fmtTime(t.ts)} by ${t.actor}`,
        t.reason ? h("span", { class: "reason" }, ` — ${t.reason}`) : null))) : h("p", { class: "muted" }, "Not acted on yet."));
  }).catch((e) => box.replaceChildren(problemBox(e)));
}

/** One recommendation with its actions; `onChange` reloads the list. */
export function card(rec, { api, can, names, onChange }) {
  const history = h("div", { class: "history" });
  const error = h("div", { "aria-live": "assertive" });
  const reason = h("input", { type: "text", maxlength: 1000, "aria-label": "Reason", placeholder: "Reason (required to reject)" });
  const act = async (verb) => {
    error.replaceChildren();
    if (verb === "reject" && !reason.value.trim()) { error.replaceChildren(problemBox({ title: "A rejection needs a reason", detail: "Say why in the reason field." })); reason.focus(); return; }
    try {
      const body = verb === "reject" ? { reason: reason.value.trim() } : (reason.value.trim() ? { reason: reason.value.trim() } : {});
      const r = await api(`/api/recommendations/${rec.id}/${verb}`, { method: "POST", body });
      toast(`Recommendation ${r.status.toLowerCase()}`);
      rec.status = r.status;
      status.replaceChildren(badge(r.status));
      actions.remove();
      transitions(history, rec, api);
      if (onChange) onChange();
    } catch (e) { error.replaceChildren(problemBox(e)); }
  };
  const actions = rec.status === "PROPOSED" && can.operate ? h("div", { class: "actions" }, reason,
    h("button", { type: "button", class: "primary", "data-action": "approve", onclick: () => act("approve") }, "Approve"),
    h("button", { type: "button", "data-action": "reject", onclick: () => act("reject") }, "Reject")) : null;
  const status = h("span", { class: "status" }, badge(rec.status));
  const plan = rec.details && rec.details.field_plan;
  const el = h("article", { class: "rec", "data-recommendation": rec.id, "data-status": rec.status },
    h("header", {}, h("strong", {}, names[rec.well_id] || rec.device_id), " · ", rec.parameter, " ", status),
    h("p", { class: "change" }, `${fmtNum(rec.current_value, 2)} → `, h("strong", {}, `${fmtNum(rec.proposed_value, 2)} ${rec.unit}`),
      ` · expected ${rec.expected_gain >= 0 ? "+" : ""}${fmtNum(rec.expected_gain, 1)} ${rec.gain_unit}`,
      ` · confidence ${fmtNum(rec.confidence * 100, 0)} %`),
    h("p", { class: "rationale" }, rec.rationale),
    plan ? h("details", {}, h("summary", {}, "The field plan"), h("p", {}, plan.rationale || "")) : null,
    rec.details && Object.keys(rec.details).length ? h("details", {}, h("summary", {}, "Details and checks"),
      h("pre", {}, JSON.stringify(rec.details, null, 2))) : null,
    h("p", { class: "muted" }, `Proposed ${fmtTime(rec.created_ts)}`),
    actions, error, history);
  transitions(history, rec, api);
  return el;
}

export async function render(main, { api, can, signal }) {
  let filter = "open";
  const list = h("div", { class: "recs" }, loading());
  const tabs = ["open", "all"].map((f) => h("button", { type: "button", "aria-pressed": String(f === filter),
    onclick: (e) => { filter = f; for (const t of tabs) t.setAttribute("aria-pressed", String(t === e.currentTarget)); load(); } },
  f === "open" ? "Open (proposed, approved, sent)" : "All"));
  main.append(h("h1", {}, "Recommendations"),
    ...(can.operate ? [] : [h("p", { class: "notice" }, "You can read recommendations; approving needs an operator.")]),
    h("div", { class: "toolbar", role: "group", "aria-label": "Which" }, tabs), list);
  const wells = await api("/api/wells?limit=1000", { signal }).catch(() => []);
  const names = Object.fromEntries(wells.map((w) => [w.id, w.name]));
  async function load() {
    try {
      const recs = await api("/api/recommendations?limit=200", { signal });
      const shown = filter === "open" ? recs.filter((r) => OPEN.includes(r.status)) : recs;
      list.replaceChildren(...(shown.length ? shown.map((r) => card(r, { api, can, names, onChange: null }))
        : [h("p", { class: "empty" }, "No recommendations to act on.")]));
    } catch (e) { if (!signal.aborted) list.replaceChildren(problemBox(e, load)); }
  }
  await load();
  const again = debounce(load, 700);
  live({ types: "events" }, (event, item) => {
    if (item.type === "recommendation") again();
    else if (item.type === "recommendation_changed") {
      const el = list.querySelector(`[data-recommendation="${item.recommendation_id}"]`);
      if (el) {
        el.dataset.status = item.to;
        if (item.to !== "PROPOSED") el.querySelector(".actions")?.remove();
        el.querySelector(".status").replaceChildren(badge(item.to));
        transitions(el.querySelector(".history"), { id: item.recommendation_id }, api);
      } else again();
    }
  }, signal);
}
