// The event catalogue: every event type, what triggers it, and a sample in
// each format that renders it (rendered by the dispatcher's own renderers).
import { api, enc, eventTypes } from "./api.js";
import { h, replace, badge, prettyBody, copyButton } from "./dom.js";
import { loading, empty, failure } from "./states.js";
import { GROUPS, FORMATS, formatLabel } from "./integrations.js";

export async function catalogueView(main, ctx) {
  const head = h(
    "div",
    { class: "page-head" },
    h("div", null, h("h1", { class: "page-title" }, "Event catalogue"), h("p", { class: "muted" }, "What each event means, and the payload each format sends for it. Open an event to see its samples.")),
  );
  const body = h("div", { class: "catalogue" });
  replace(main, head, body);
  body.appendChild(loading("Loading the catalogue…"));
  let types;
  try {
    types = await eventTypes();
  } catch (err) {
    if (ctx.alive()) replace(body, failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  replace(body);
  if (!types.length) {
    body.appendChild(empty("No event types", "The catalogue is empty."));
    return;
  }
  const groups = [...GROUPS];
  for (const t of types) if (!groups.find((g) => g.id === t.group)) groups.push({ id: t.group, label: "Other" });
  for (const g of groups) {
    const inGroup = types.filter((t) => t.group === g.id);
    if (!inGroup.length) continue;
    body.appendChild(h("section", { class: "cat-group" }, h("h2", { class: "section-title" }, g.label), inGroup.map(eventEntry)));
  }
}

function eventEntry(t) {
  const panel = h("div", { class: "samples" });
  const details = h(
    "details",
    { class: "card event", dataset: { type: t.type } },
    h(
      "summary",
      null,
      h("span", { class: "event-name mono" }, t.type),
      h("span", { class: "event-desc" }, t.description || ""),
      h("span", { class: "event-formats" }, [...(t.formats || [])].sort((a, b) => FORMATS.findIndex((x) => x.id === a) - FORMATS.findIndex((x) => x.id === b)).map((f) => badge(formatLabel(f), "format"))),
    ),
    panel,
  );
  let loaded = false;
  const load = async () => {
    loaded = true;
    replace(panel, loading("Rendering samples…"));
    try {
      const r = await api("GET", `/v1/event-types/${enc(t.type)}/samples`);
      replace(panel, samples(t, r.samples || {}));
    } catch (err) {
      loaded = false;
      replace(panel, failure(err, load));
    }
  };
  details.addEventListener("toggle", () => {
    if (details.open && !loaded) load();
  });
  return details;
}

function samples(t, byFormat) {
  const order = (f) => { const i = FORMATS.findIndex((x) => x.id === f); return i < 0 ? FORMATS.length : i; };
  const formats = Object.keys(byFormat).sort((a, b) => order(a) - order(b));
  if (!formats.length) return empty("No samples", "No format renders this event.");
  const out = h("div", { class: "sample-body" });
  const tabs = formats.map((f, idx) =>
    h("button", { type: "button", class: "seg", "aria-pressed": idx === 0 ? "true" : "false", dataset: { format: f } }, formatLabel(f)),
  );
  const show = (f) => {
    for (const b of tabs) b.setAttribute("aria-pressed", b.dataset.format === f ? "true" : "false");
    const s = byFormat[f];
    replace(
      out,
      h("div", { class: "sub-head" }, h("span", { class: "muted mono" }, `Content-Type: ${s.content_type || ""}`), copyButton("Copy sample", () => s.body)),
      h("pre", { class: "code", "aria-label": `${t.type} in ${formatLabel(f)}` }, prettyBody(s.body, s.content_type)),
    );
  };
  for (const b of tabs) b.addEventListener("click", () => show(b.dataset.format));
  show(formats[0]);
  return h("div", null, h("div", { class: "segmented", role: "group", "aria-label": "Format" }, tabs), out);
}
