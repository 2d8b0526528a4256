// DOM helpers. Every value from the API goes through textContent or an
// attribute setter, never through HTML parsing.

/** Build an element: h("a", {href, class, onclick}, child, "text", [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key === "checked" || key === "selected" || key === "value" || key === "disabled") {
        el[key] = value;
      } else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

let idSeq = 0;
export function uid(prefix) {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/** A labelled form field: label, control, hint and an error slot. */
export function field(label, control, { hint, name, className } = {}) {
  const id = control.id || uid("f");
  control.id = id;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  const error = h("p", { class: "field-error", id: errorId, role: "alert", hidden: true });
  const wrap = h(
    "div",
    { class: `field ${className || ""}`.trim(), dataset: name ? { field: name } : undefined },
    h("label", { for: id, class: "label" }, label),
    control,
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    error,
  );
  return wrap;
}

/** A fieldset of controls, with a legend and an error slot. */
export function group(legend, content, { hint, name, className } = {}) {
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  return h(
    "fieldset",
    { class: `field group ${className || ""}`.trim(), dataset: name ? { field: name } : undefined },
    h("legend", { class: "label" }, legend),
    hint ? h("p", { class: "hint" }, hint) : null,
    content,
    error,
  );
}

export function setFieldError(wrap, message) {
  const slot = wrap.querySelector(":scope > .field-error");
  if (!slot) return;
  slot.textContent = message || "";
  slot.hidden = !message;
  wrap.classList.toggle("has-error", Boolean(message));
  for (const c of wrap.querySelectorAll("input, select, textarea")) {
    if (message) c.setAttribute("aria-invalid", "true");
    else c.removeAttribute("aria-invalid");
  }
}

const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function formatDate(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
}

export function relative(iso) {
  if (!iso) return "";
  const d = new Date(iso).getTime();
  if (Number.isNaN(d)) return "";
  const s = Math.round((d - Date.now()) / 1000);
  const abs = Math.abs(s);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (abs < 60) return rtf.format(s, "second");
  if (abs < 3600) return rtf.format(Math.round(s / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(s / 3600), "hour");
  return rtf.format(Math.round(s / 86400), "day");
}

/** A <time> with the absolute date as text and the relative one beside it. */
export function when(iso, { withRelative = true } = {}) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h(
    "time",
    { datetime: iso, title: iso },
    formatDate(iso),
    withRelative ? h("span", { class: "muted rel" }, ` (${relative(iso)})`) : null,
  );
}

/** Seconds as "5 s", "5 min", "1 h 30 min". */
export function duration(seconds) {
  const s = Number(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    const r = s % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  if (s < 86400 || s % 86400) {
    const hrs = Math.floor(s / 3600);
    const m = Math.round((s % 3600) / 60);
    return m ? `${hrs} h ${m} min` : `${hrs} h`;
  }
  return `${s / 86400} d`;
}

/** Show credentials in a URL as user:*** whatever the API sent. */
export function redactUrl(raw) {
  try {
    const u = new URL(raw);
    if (u.password && u.password !== "***" && u.password !== "%2A%2A%2A") {
      return raw.replace(`:${u.password}@`, ":***@");
    }
  } catch {
    /* not a URL: shown as is */
  }
  return raw;
}

export function badge(text, kind) {
  return h("span", { class: `badge badge-${kind || "neutral"}` }, text);
}

/** A safe external link: only http(s), opened without referrer or opener. */
export function externalLink(url, text) {
  let ok = false;
  try {
    const u = new URL(url);
    ok = u.protocol === "https:" || u.protocol === "http:";
  } catch {
    ok = false;
  }
  if (!ok) return h("span", { class: "mono" }, url);
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text || url);
}

/** Pretty-print a body: JSON indented, a form's fields decoded, else as is. */
export function prettyBody(body, contentType) {
  const text = body == null ? "" : String(body);
  const ct = (contentType || "").toLowerCase();
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON */
  }
  if (ct.includes("application/x-www-form-urlencoded")) {
    const params = new URLSearchParams(text);
    const parts = [];
    for (const [k, v] of params) {
      let value = v;
      try {
        value = JSON.stringify(JSON.parse(v), null, 2);
      } catch {
        /* a plain value */
      }
      parts.push(`${k} =\n${value}`);
    }
    if (parts.length) return parts.join("\n\n");
  }
  return text;
}

/** A copy-to-clipboard button for the text `get()` returns. */
export function copyButton(label, get) {
  const btn = h("button", { type: "button", class: "btn btn-small" }, label);
  btn.addEventListener("click", async () => {
    const text = get();
    let done = false;
    try {
      await navigator.clipboard.writeText(text);
      done = true;
    } catch {
      done = false;
    }
    btn.textContent = done ? "Copied" : "Copy failed: select the text";
    setTimeout(() => {
      btn.textContent = label;
    }, 1600);
  });
  return btn;
}
