// The console's shell: login, the hash router (`#/map`, `#/wells/{id}`,
// `#/alarms`, `#/recommendations`, `#/plugins`, `#/health`), the header and
// what the screens share (the caller's role).

import { api, login, logout, session } from "./api.js";
import { h, problemBox, setTimeZone, timeZone } from "./ui.js";
import * as map from "./map.js";
import * as well from "./well.js";
import * as alarms from "./alarms.js";
import * as recommendations from "./recommendations.js";
import * as plugins from "./plugins.js";
import * as health from "./health.js";

const SCREENS = { map, wells: well, alarms, recommendations, plugins, health };
const main = document.getElementById("main");
let cleanup = null;

/** What the caller may do; the API enforces it whatever the page shows. */
export function abilities(role) {
  return {
    role,
    operate: role === "OPERATOR" || role === "TENANT_ADMIN",
    admin: role === "TENANT_ADMIN",
  };
}

function loginScreen(message) {
  document.getElementById("top").hidden = true;
  const error = h("div", { "aria-live": "assertive" });
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "login", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.replaceChildren();
    try {
      await login(email.value.trim(), password.value);
      location.hash = "#/map";
      route();
    } catch (err) {
      error.replaceChildren(problemBox(err));
    } finally { submit.disabled = false; }
  } },
  h("h1", {}, "Nexus"),
  h("p", { class: "muted" }, "Production-facility telemetry, alarms and optimization."),
  message ? h("p", { class: "notice" }, message) : null,
  h("label", { for: "email" }, "Email"), email,
  h("label", { for: "password" }, "Password"), password,
  submit, error);
  main.replaceChildren(form);
  email.focus();
}

function header(s) {
  const top = document.getElementById("top");
  top.hidden = false;
  const can = abilities(s.role);
  for (const a of top.querySelectorAll("[data-admin]")) a.hidden = !can.admin;
  document.getElementById("user").textContent = `${s.email} · ${s.role.replace(/_/g, " ").toLowerCase()}`;
  const tz = document.getElementById("tz");
  if (!tz.options.length) {
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [timeZone()];
    if (!zones.includes("UTC")) zones.unshift("UTC");
    for (const z of zones) tz.append(h("option", { value: z }, z));
    tz.value = timeZone();
    tz.onchange = () => { setTimeZone(tz.value); route(); };
  }
  document.getElementById("logout").onclick = async () => { await logout(); location.hash = "#/login"; };
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  const s = session();
  if (!s || name === "login") { loginScreen(); return; }
  header(s);
  const screen = SCREENS[name] || (location.hash = "#/map", null);
  if (!screen) return;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.screen === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  const controller = new AbortController();
  cleanup = () => controller.abort();
  main.replaceChildren();
  try {
    await screen.render(main, { params, can: abilities(s.role), signal: controller.signal, api });
  } catch (e) {
    if (!controller.signal.aborted) main.replaceChildren(problemBox(e, route));
  }
  if (document.activeElement === document.body) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
route();
