// Loading, empty and error states shared by every view.
import { h } from "./dom.js";

export function loading(text) {
  return h("div", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), text || "Loading…");
}

export function empty(title, text, action) {
  return h("div", { class: "state state-empty" }, h("p", { class: "state-title" }, title), text ? h("p", { class: "muted" }, text) : null, action || null);
}

/** An error state; an unreachable API gets a Retry button. */
export function failure(err, retry) {
  const unreachable = !err || err.unreachable;
  return h(
    "div",
    { class: "state state-error", role: "alert" },
    h("p", { class: "state-title" }, unreachable ? "The webhook service is not answering" : "Something went wrong"),
    h("p", { class: "muted" }, unreachable ? "Check your connection, then try again. Nothing you saved is lost." : (err && err.message) || String(err)),
    retry ? h("button", { type: "button", class: "btn", onclick: retry }, "Retry") : null,
  );
}

/** An inline error message for an action (not a whole view). */
export function inlineError(err) {
  const text = err && err.status === 403 && err.code === "read_only" ? "This link is read-only." : (err && err.message) || String(err);
  return h("p", { class: "notice notice-error", role: "alert" }, text);
}


// A message to show once on the next view (e.g. "Changes saved." after a save re-renders the page).
let flashText = null;
export function setFlash(text) {
  flashText = text;
}
export function takeFlash() {
  const t = flashText;
  flashText = null;
  return t ? h("p", { class: "notice notice-ok", role: "status" }, t) : null;
}
