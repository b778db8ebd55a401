// Small helpers every screen shares: elements, times in the site's time
// zone, loading and error states, severity colours.

/** `h("div", {class: "x", onclick}, child, "text")` */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const TZ_KEY = "nexus.tz";
/** The site's time zone: chosen in the header, else the browser's. */
export function timeZone() {
  return localStorage.getItem(TZ_KEY) || Intl.DateTimeFormat().resolvedOptions().timeZone;
}
export function setTimeZone(tz) { localStorage.setItem(TZ_KEY, tz); }

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Intl.DateTimeFormat(undefined, {
    timeZone: timeZone(), year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(new Date(ms));
}

export function fmtNum(x, digits = 1) {
  if (typeof x !== "number" || !isFinite(x)) return x === null || x === undefined ? "—" : String(x);
  return x.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function loading(label = "Loading…") {
  return h("p", { class: "loading", role: "status", "aria-live": "polite" }, label);
}

/** An error as the API gave it: title, detail and code. */
export function problemBox(error, retry) {
  return h("div", { class: "problem", role: "alert" },
    h("strong", {}, error.title || "Something went wrong"),
    error.detail ? h("p", { class: "detail" }, error.detail) : h("p", {}, String(error.message || error)),
    error.code ? h("p", { class: "code" }, "code: ", h("code", {}, error.code)) : null,
    retry ? h("button", { type: "button", onclick: retry }, "Retry") : null);
}

/** Renders `load()`'s result into `box`, with loading and error states. */
export async function section(box, load, render) {
  box.replaceChildren(loading());
  try {
    const data = await load();
    box.replaceChildren(...[render(data)].flat());
  } catch (e) {
    box.replaceChildren(problemBox(e, () => section(box, load, render)));
  }
}

export const SEVERITIES = ["CRITICAL", "MAJOR", "MINOR", "WARNING", "INDETERMINATE"];
export function severityRank(s) { const i = SEVERITIES.indexOf(s); return i < 0 ? 99 : i; }
export function badge(text, kind = text) {
  return h("span", { class: "badge b-" + String(kind).toLowerCase().replace(/_/g, "-") }, String(text).replace(/_/g, " "));
}

let toastTimer;
export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

/** Calls `fn` at most once per `ms`, at the end. */
export function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

export function table(headers, rows, empty = "Nothing here.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
}
