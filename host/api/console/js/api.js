// The console's only way to the host: `/api` with the user's bearer token.
// Every error is the API's problem document, kept whole so a screen can show
// its `code`, `title` and `detail`.

const KEY = "nexus.session";

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || "http-" + status;
    this.title = body.title || "";
    this.detail = body.detail || "";
  }
}

export function session() {
  try { return JSON.parse(sessionStorage.getItem(KEY)) || null; } catch { return null; }
}

function keep(tokens, email) {
  const s = { access: tokens.access_token, refresh: tokens.refresh_token, role: tokens.role, email };
  sessionStorage.setItem(KEY, JSON.stringify(s));
  return s;
}

export async function login(email, password) {
  const r = await fetch("/api/auth/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  if (!r.ok) throw await problem(r);
  return keep(await r.json(), email);
}

export async function logout() {
  const s = session();
  sessionStorage.removeItem(KEY);
  if (s) fetch("/api/auth/logout", { method: "POST", headers: { authorization: "Bearer " + s.access } }).catch(() => {});
}

let refreshing = null;
async function refresh() {
  const s = session();
  if (!s) return false;
  refreshing ??= fetch("/api/auth/refresh", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: s.refresh }),
  }).then(async (r) => {
    if (!r.ok) { sessionStorage.removeItem(KEY); return false; }
    keep(await r.json(), s.email);
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

async function problem(r) {
  let body = {};
  try { body = await r.json(); } catch { body = { title: r.statusText }; }
  return new Problem(r.status, body);
}

/** Calls the API; JSON in and out (`raw` sends bytes as they are). */
export async function api(path, { method = "GET", body, raw, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    const s = session();
    const headers = s ? { authorization: "Bearer " + s.access } : {};
    let payload;
    if (raw !== undefined) { payload = raw; headers["content-type"] = "application/octet-stream"; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers["content-type"] = "application/json"; }
    const r = await fetch(path, { method, headers, body: payload, signal });
    if (r.status === 401 && attempt === 0 && await refresh()) continue;
    if (r.status === 401) { sessionStorage.removeItem(KEY); location.hash = "#/login"; }
    if (!r.ok) throw await problem(r);
    if (r.status === 204) return null;
    const type = r.headers.get("content-type") || "";
    return type.includes("json") ? r.json() : r.text();
  }
}

/**
 * The tenant's live stream (`/api/telemetry/stream`) read with fetch, so the
 * bearer token goes in a header. Calls `onItem(event, data)` per server-sent
 * event and reconnects with a growing pause until `signal` aborts.
 */
export function live(query, onItem, signal, onState = () => {}) {
  let pause = 500;
  const run = async () => {
    while (!signal.aborted) {
      try {
        const s = session();
        const r = await fetch("/api/telemetry/stream?" + new URLSearchParams(query), {
          headers: { authorization: "Bearer " + (s && s.access), accept: "text/event-stream" }, signal,
        });
        if (r.status === 401 && await refresh()) continue;
        if (!r.ok) throw await problem(r);
        onState("open");
        pause = 500;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) event = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trimStart();
            }
            if (data) { try { onItem(event, JSON.parse(data)); } catch (e) { console.warn("live item", e); } }
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        onState("retrying", e);
      }
      await new Promise((done) => setTimeout(done, pause));
      pause = Math.min(pause * 2, 10000);
    }
  };
  run();
}
