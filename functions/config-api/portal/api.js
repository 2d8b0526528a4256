// The portal's API client: same-origin relative URLs, the portal token as a
// bearer token, errors as ApiError.

const STORAGE_KEY = "chathooks.portal.token";

/** Read the token from #token=..., keep it in sessionStorage, drop it from the address bar. */
export function takeToken() {
  const hash = window.location.hash || "";
  const match = /^#token=([^&]+)/.exec(hash);
  if (match) {
    const token = decodeURIComponent(match[1]);
    try {
      window.sessionStorage.setItem(STORAGE_KEY, token);
    } catch {
      /* storage refused (sandboxed iframe): keep it in memory only */
    }
    memoryToken = token;
    const rest = hash.slice(match[0].length).replace(/^&/, "");
    window.history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${rest.startsWith("/") ? rest : "/"}`);
    return token;
  }
  try {
    memoryToken = window.sessionStorage.getItem(STORAGE_KEY) || memoryToken;
  } catch {
    /* no storage */
  }
  return memoryToken;
}

let memoryToken = null;

export function forgetToken() {
  memoryToken = null;
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* no storage */
  }
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
  get unreachable() {
    return this.status === 0 || this.status >= 500;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** Call the API; resolves to the parsed JSON (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (memoryToken) headers.authorization = `Bearer ${memoryToken}`;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", "The webhook service cannot be reached.");
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(
      res.status,
      e.code || `http_${res.status}`,
      e.message || (res.status >= 500 ? "The webhook service had a problem." : `Request failed (${res.status}).`),
      e.field,
    );
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return data;
}

/** Build a query string from the defined, non-empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

// Cached reference data: the event catalogue rarely changes.
let eventTypesPromise = null;
export function eventTypes() {
  if (!eventTypesPromise) {
    eventTypesPromise = api("GET", "/v1/event-types").then((r) => r.event_types || []);
    eventTypesPromise.catch(() => {
      eventTypesPromise = null;
    });
  }
  return eventTypesPromise;
}
