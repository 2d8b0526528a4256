// Integrations: the list, one integration's page with its tabs, and the
// create / edit form.
import { api, enc, eventTypes, qs } from "./api.js";
import {
  h, replace, field, group, setFieldError, when, duration, redactUrl, badge, prettyBody, copyButton, externalLink, relative, formatDate,
} from "./dom.js";
import { loading, empty, failure, inlineError, setFlash, takeFlash } from "./states.js";
import { deliveriesPanel, conversationSearch } from "./deliveries.js";

export const FORMATS = [
  { id: "standard", label: "Standard Webhooks", hint: "{type, timestamp, data} JSON, for your own endpoints." },
  { id: "rocketchat", label: "Rocket.Chat", hint: "The Omnichannel webhook payloads, with X-RocketChat-Livechat-Token." },
  { id: "livechat", label: "LiveChat", hint: "LiveChat's webhook bodies (action, license_id, payload)." },
  { id: "olark", label: "Olark", hint: "Olark's transcript, posted as a form field named data." },
  { id: "amplifyreach", label: "AmplifyReach", hint: "{type, data}: chat transcripts and contact information." },
];

export function formatLabel(id) {
  const f = FORMATS.find((x) => x.id === id);
  return f ? f.label : id;
}

export const GROUPS = [
  { id: "chat", label: "Chat lifecycle" },
  { id: "messages", label: "Messages" },
  { id: "offline", label: "Offline messages and leads" },
  { id: "tickets", label: "Tickets" },
  { id: "canned", label: "Canned responses" },
  { id: "test", label: "Testing" },
];

const RETRY_PRESETS = [
  { id: "standard", label: "Standard", schedule: "Retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±20 % jitter): 8 attempts over about 27 hours." },
  { id: "rocketchat", label: "Rocket.Chat", schedule: "10 retries, 10 s apart, as Rocket.Chat does." },
  { id: "livechat", label: "LiveChat", schedule: "10 retries within 6 hours: after 10 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h, 1 h, 1 h 30 min, 1 h 30 min." },
  { id: "none", label: "No retries", schedule: "One attempt only; a failure is final." },
  { id: "custom", label: "Custom", schedule: "Your own delays in seconds, one per retry (at most 20, each at most 7 days)." },
];

const ORDERINGS = [
  { id: "none", label: "As they come (fastest)", desc: "Every delivery is sent as soon as its event arrives. Two events of one chat may reach the endpoint out of order, for example when the first one needs a retry." },
  { id: "chat", label: "One chat at a time, in order", desc: "The deliveries of one chat are sent one after another, in the order the events came. While one fails and waits for its retry, the later ones of the same chat wait behind it; other chats keep flowing." },
];

function orderingText(o) {
  const x = ORDERINGS.find((y) => y.id === (o || "none"));
  return x ? x.label : String(o);
}

const LIVECHAT_DATA_TYPES = [
  { id: "chat", label: "Chat" },
  { id: "visitor", label: "Visitor" },
  { id: "pre_chat_survey", label: "Pre-chat survey" },
  { id: "ticket", label: "Ticket" },
  { id: "canned_response", label: "Canned response" },
];

// ---- status and health ------------------------------------------------------

export function statusBadge(i) {
  return i.enabled ? badge("Enabled", "ok") : badge("Disabled", "off");
}

function disabledReason(i) {
  if (i.enabled && i.failing_since) {
    return h("p", { class: "reason" }, "Failing since ", h("time", { datetime: i.failing_since }, formatDate(i.failing_since)), ": no delivery has succeeded since. After days without a success it is disabled.");
  }
  if (i.enabled || !i.disabled_reason) return null;
  return h("p", { class: "reason" }, `Disabled: ${i.disabled_reason}`);
}

function health(slot, id) {
  replace(slot, h("span", { class: "muted" }, "Checking health…"));
  api("GET", `/v1/integrations/${enc(id)}/stats`)
    .then((s) => {
      const last = s.last_attempt;
      const day = s.last_24h || { succeeded: 0, failed: 0 };
      const lastText = !last
        ? h("span", { class: "muted" }, "No attempts yet")
        : h(
            "span",
            null,
            h("span", { class: `dot ${last.ok ? "dot-ok" : "dot-bad"}`, "aria-hidden": "true" }),
            last.ok ? "Last attempt succeeded" : "Last attempt failed",
            last.status_code ? ` (${last.status_code})` : last.error_kind ? ` (${last.error_kind})` : "",
            " ",
            h("time", { datetime: last.at, title: last.at, class: "muted" }, relative(last.at)),
          );
      replace(
        slot,
        h("span", { class: "health-last" }, lastText),
        h(
          "span",
          { class: "health-day" },
          "Last 24 h: ",
          h("strong", { class: "count-ok" }, String(day.succeeded)),
          " succeeded · ",
          h("strong", { class: day.failed ? "count-bad" : "" }, String(day.failed)),
          " failed",
        ),
      );
    })
    .catch((err) => {
      replace(slot, h("span", { class: "muted" }, err.status === 401 ? "" : "Health unavailable"));
    });
}

function eventChips(events) {
  const list = [...events];
  const shown = list.slice(0, 4);
  return h(
    "ul",
    { class: "chips", "aria-label": "Events" },
    shown.map((e) => h("li", { class: "chip" }, e)),
    list.length > shown.length ? h("li", { class: "chip chip-more" }, `+${list.length - shown.length} more`) : null,
  );
}

// ---- the list ----------------------------------------------------------------

export async function integrationsView(main, ctx) {
  const header = h(
    "div",
    { class: "page-head" },
    h("div", null, h("h1", { class: "page-title" }, "Integrations"), h("p", { class: "muted" }, "Endpoints that receive your chat events, signed and retried until they answer.")),
    ctx.readOnly ? null : h("a", { href: "#/new", class: "btn btn-primary" }, "Add integration"),
  );
  const list = h("div", { class: "integration-list" });
  const more = h("div", { class: "more" });
  const search = h(
    "section",
    { class: "card conversation-card" },
    h("h2", { class: "section-title" }, "Find a conversation"),
    h("p", { class: "muted" }, "Every delivery of one chat, across all your integrations."),
    conversationSearch(ctx, ""),
  );
  replace(main, header, list, more, search);
  list.appendChild(loading("Loading integrations…"));

  const load = async (cursor) => {
    let page;
    try {
      page = await api("GET", `/v1/integrations${qs({ limit: 50, cursor })}`);
    } catch (err) {
      if (!ctx.alive()) return;
      if (!cursor) replace(list, failure(err, () => ctx.rerender()));
      else replace(more, inlineError(err));
      return;
    }
    if (!ctx.alive()) return;
    if (!cursor) replace(list);
    if (!cursor && page.items.length === 0) {
      list.appendChild(
        empty(
          "No integrations yet",
          ctx.readOnly ? "Nothing has been set up for this account." : "Add the URL of your CRM, helpdesk or own endpoint, and pick the chat events it should receive.",
          ctx.readOnly ? null : h("a", { href: "#/new", class: "btn btn-primary" }, "Add integration"),
        ),
      );
    }
    for (const i of page.items) list.appendChild(card(i));
    replace(more);
    if (page.next_cursor) {
      more.appendChild(h("button", { type: "button", class: "btn", onclick: () => load(page.next_cursor) }, "Load more integrations"));
    }
  };
  await load(null);
}

function card(i) {
  const healthSlot = h("div", { class: "health" });
  const el = h(
    "article",
    { class: `card integration ${i.enabled ? "" : "is-disabled"}`.trim(), dataset: { id: i.id } },
    h(
      "div",
      { class: "card-head" },
      h("h2", { class: "card-title" }, h("a", { href: `#/i/${enc(i.id)}` }, i.name)),
      statusBadge(i),
    ),
    h("p", { class: "url mono" }, redactUrl(i.url)),
    disabledReason(i),
    h("div", { class: "meta" }, badge(formatLabel(i.format), "format"), eventChips(i.events || [])),
    healthSlot,
  );
  health(healthSlot, i.id);
  return el;
}

// ---- one integration -----------------------------------------------------------

const TABS = [
  { id: "deliveries", label: "Deliveries", write: false },
  { id: "test", label: "Send test & preview", write: true },
  { id: "secret", label: "Signing secret", write: true },
  { id: "settings", label: "Settings", write: false },
];

export async function integrationView(main, ctx, id, tab) {
  replace(main, loading("Loading integration…"));
  let i;
  try {
    i = await api("GET", `/v1/integrations/${enc(id)}`);
  } catch (err) {
    if (!ctx.alive()) return;
    if (err.status === 404) {
      replace(main, h("h1", { class: "page-title" }, "Integration not found"), empty("It may have been deleted.", null, h("a", { href: "#/", class: "btn" }, "Back to integrations")));
    } else replace(main, failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  const tabs = TABS.filter((t) => !t.write || !ctx.readOnly);
  const current = tabs.find((t) => t.id === tab) || tabs[0];
  const healthSlot = h("div", { class: "health" });
  const actions = h("div", { class: "actions" });
  const actionMsg = h("div", { class: "action-msg", "aria-live": "polite" }, takeFlash());
  if (!ctx.readOnly) {
    const toggle = h("button", { type: "button", class: "btn" }, i.enabled ? "Disable" : "Enable");
    toggle.addEventListener("click", async () => {
      toggle.disabled = true;
      try {
        await api("PATCH", `/v1/integrations/${enc(i.id)}`, { enabled: !i.enabled });
        setFlash(i.enabled ? "Disabled: no deliveries are sent until you enable it again." : "Enabled: deliveries are sent again.");
        ctx.rerender();
      } catch (err) {
        toggle.disabled = false;
        replace(actionMsg, inlineError(err));
      }
    });
    actions.appendChild(toggle);
  }
  const panel = h("section", { class: "tab-panel", id: "tab-panel", "aria-labelledby": `tab-${current.id}` });
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Integrations"), h("span", { "aria-hidden": "true" }, " / "), h("span", null, i.name)),
    h(
      "div",
      { class: "page-head" },
      h(
        "div",
        { class: "head-main" },
        h("div", { class: "title-row" }, h("h1", { class: "page-title" }, i.name), statusBadge(i), badge(formatLabel(i.format), "format"), i.ordering === "chat" ? badge("One chat at a time", "format") : null),
        h("p", { class: "url mono" }, redactUrl(i.url)),
        disabledReason(i),
        healthSlot,
      ),
      actions,
    ),
    actionMsg,
    h(
      "nav",
      { class: "tabs", "aria-label": "Integration sections" },
      tabs.map((t) =>
        h("a", { href: `#/i/${enc(i.id)}/${t.id}`, id: `tab-${t.id}`, class: "tab", "aria-current": t.id === current.id ? "page" : null }, t.label),
      ),
    ),
    panel,
  );
  health(healthSlot, i.id);
  switch (current.id) {
    case "deliveries":
      await deliveriesPanel(panel, ctx, i);
      break;
    case "test":
      await testPanel(panel, ctx, i);
      break;
    case "secret":
      secretPanel(panel, ctx, i);
      break;
    default:
      await settingsPanel(panel, ctx, i);
  }
}

// ---- send test and preview --------------------------------------------------------

async function testPanel(panel, ctx, i) {
  const result = h("div", { class: "result", "aria-live": "polite" });
  const send = h("button", { type: "button", class: "btn btn-primary" }, "Send test");
  send.addEventListener("click", async () => {
    send.disabled = true;
    replace(result, loading("Sending a webhook.test event…"));
    try {
      const r = await api("POST", `/v1/integrations/${enc(i.id)}/test`);
      replace(result, testResult(r));
    } catch (err) {
      replace(result, inlineError(err));
    } finally {
      send.disabled = false;
    }
  });
  const previewCard = h("section", { class: "card" });
  replace(
    panel,
    h(
      "section",
      { class: "card" },
      h("h2", { class: "section-title" }, "Send test"),
      h("p", { class: "muted" }, "Sends a webhook.test event to this endpoint now, signed like every delivery, and shows what it answered. A JSON answer with a link (link, url or integrationUrl) is shown too."),
      send,
      result,
    ),
    previewCard,
  );
  await previewSection(previewCard, ctx, i);
}

function testResult(r) {
  const rows = [
    ["Result", r.ok ? badge("Delivered", "ok") : badge("Failed", "bad")],
    ["Status", r.status_code != null ? String(r.status_code) : "no response"],
    ["Duration", `${r.duration_ms} ms`],
  ];
  if (r.error_kind) rows.push(["Error", `${r.error_kind}${r.error ? `: ${r.error}` : ""}`]);
  if (r.link) rows.push(["Returned link", externalLink(r.link)]);
  rows.push(["Delivery", h("a", { href: `#/d/${enc(r.delivery_id)}` }, "Open in the delivery log")]);
  return h(
    "div",
    { class: `test-result ${r.ok ? "is-ok" : "is-bad"}` },
    dl(rows),
    r.response_excerpt ? h("div", null, h("h3", { class: "sub-title" }, "Response"), h("pre", { class: "code" }, prettyBody(r.response_excerpt))) : null,
  );
}

export function dl(rows) {
  return h(
    "dl",
    { class: "kv" },
    rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
  );
}

async function previewSection(card, ctx, i) {
  replace(card, h("h2", { class: "section-title" }, "Payload preview"), loading("Loading event types…"));
  let types;
  try {
    types = await eventTypes();
  } catch (err) {
    replace(card, h("h2", { class: "section-title" }, "Payload preview"), failure(err, () => previewSection(card, ctx, i)));
    return;
  }
  if (!ctx.alive()) return;
  const renderable = types.filter((t) => (t.formats || []).includes(i.format));
  const select = h(
    "select",
    { name: "event_type" },
    renderable.map((t) => h("option", { value: t.type, selected: (i.events || [])[0] === t.type }, t.type)),
  );
  const out = h("div", { class: "preview", "aria-live": "polite" });
  const show = h("button", { type: "submit", class: "btn" }, "Show preview");
  const fieldWrap = field("Event type", select, { name: "event_type", hint: "Exactly the request this integration would receive for a sample event; nothing is sent." });
  const form = h("form", { class: "inline-form", novalidate: true }, fieldWrap, show);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setFieldError(fieldWrap, null);
    replace(out, loading("Rendering…"));
    try {
      const p = await api("POST", `/v1/integrations/${enc(i.id)}/preview`, { event_type: select.value });
      replace(out, previewResult(p));
    } catch (err) {
      replace(out);
      if (err.field === "event_type") setFieldError(fieldWrap, err.message);
      else out.appendChild(inlineError(err));
    }
  });
  replace(card, h("h2", { class: "section-title" }, "Payload preview"), form, out);
}

function previewResult(p) {
  const headers = Object.entries(p.headers || {});
  const ct = (headers.find(([k]) => k.toLowerCase() === "content-type") || [])[1] || "";
  const body = prettyBody(p.body, ct);
  return h(
    "div",
    { class: "request" },
    h("p", { class: "request-line mono" }, h("strong", null, p.method || "POST"), " ", redactUrl(p.url || "")),
    h("h3", { class: "sub-title" }, "Headers"),
    h(
      "table",
      { class: "headers-table" },
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Header"), h("th", { scope: "col" }, "Value"))),
      h(
        "tbody",
        null,
        headers.map(([k, v]) => h("tr", { class: k.toLowerCase().startsWith("webhook-") ? "is-signature" : "" }, h("th", { scope: "row", class: "mono" }, k), h("td", { class: "mono wrap" }, v))),
      ),
    ),
    h("div", { class: "sub-head" }, h("h3", { class: "sub-title" }, "Body"), copyButton("Copy body", () => p.body)),
    h("pre", { class: "code", "data-raw-body": "" }, body),
  );
}

// ---- signing secret ---------------------------------------------------------

function secretPanel(panel, ctx, i) {
  const shown = h("div", { class: "secret-box", "aria-live": "polite" });
  const reveal = h("button", { type: "button", class: "btn" }, "Reveal secret");
  const hidden = () => {
    replace(shown, h("p", { class: "secret-mask mono", "aria-label": "Secret hidden" }, "whsec_••••••••••••••••••••••••"), reveal);
  };
  const showSecret = (s) => {
    const rows = [
      h("div", { class: "secret-row" }, h("span", { class: "secret-label" }, "Current"), h("code", { class: "secret mono", "data-secret": "current" }, s.secret), copyButton("Copy", () => s.secret)),
    ];
    if (s.previous_secret) {
      rows.push(
        h(
          "div",
          { class: "secret-row" },
          h("span", { class: "secret-label" }, "Previous"),
          h("code", { class: "secret mono", "data-secret": "previous" }, s.previous_secret),
          copyButton("Copy previous", () => s.previous_secret),
        ),
      );
    }
    const hide = h("button", { type: "button", class: "btn btn-small", onclick: hidden }, "Hide secret");
    replace(
      shown,
      rows,
      s.previous_secret_expires_at
        ? h("p", { class: "muted" }, "Both secrets sign every delivery until ", when(s.previous_secret_expires_at), "; after that only the current one does.")
        : null,
      hide,
    );
  };
  reveal.addEventListener("click", async () => {
    reveal.disabled = true;
    try {
      showSecret(await api("GET", `/v1/integrations/${enc(i.id)}/secret`));
    } catch (err) {
      shown.appendChild(inlineError(err));
    } finally {
      reveal.disabled = false;
    }
  });
  hidden();

  const grace = h(
    "select",
    { name: "grace_hours" },
    [
      [0, "No grace: the old secret stops at once"],
      [1, "1 hour"],
      [24, "24 hours"],
      [72, "3 days"],
      [168, "7 days"],
    ].map(([v, label]) => h("option", { value: String(v), selected: v === 24 }, label)),
  );
  const graceField = field("Keep the old secret signing for", grace, { name: "grace_hours" });
  const rotateOut = h("div", { "aria-live": "polite" });
  const rotate = h("button", { type: "button", class: "btn" }, "Rotate secret");
  rotate.addEventListener("click", () => {
    confirmDialog({
      title: "Rotate the signing secret?",
      text: Number(grace.value) > 0
        ? `A new secret signs from now on. The current one keeps signing too for ${duration(Number(grace.value) * 3600)}, so receivers can switch without missing a delivery.`
        : "A new secret signs from now on and the current one stops at once: receivers still checking it will reject deliveries.",
      confirm: "Rotate secret",
      danger: Number(grace.value) === 0,
      onConfirm: async () => {
        setFieldError(graceField, null);
        try {
          const r = await api("POST", `/v1/integrations/${enc(i.id)}/secret/rotate`, { grace_hours: Number(grace.value) });
          let current = { secret: r.secret, previous_secret_expires_at: r.previous_secret_expires_at };
          try {
            current = await api("GET", `/v1/integrations/${enc(i.id)}/secret`);
          } catch {
            /* show what the rotation answered */
          }
          showSecret(current);
          replace(rotateOut, h("p", { class: "notice notice-ok", role: "status" }, "Secret rotated."));
        } catch (err) {
          if (err.field === "grace_hours") setFieldError(graceField, err.message);
          else replace(rotateOut, inlineError(err));
        }
      },
    });
  });
  replace(
    panel,
    h(
      "section",
      { class: "card" },
      h("h2", { class: "section-title" }, "Signing secret"),
      h("p", { class: "muted" }, "Every delivery carries webhook-id, webhook-timestamp and webhook-signature (HMAC-SHA256, Standard Webhooks). Verify them with this secret."),
      shown,
    ),
    h("section", { class: "card" }, h("h2", { class: "section-title" }, "Rotate"), h("p", { class: "muted" }, "Replace the secret, for example when it may have leaked. During the grace period every delivery carries two signatures, new first."), graceField, rotate, rotateOut),
  );
}

/** A modal confirmation (<dialog>: focus stays inside, Escape cancels). */
export function confirmDialog({ title, text, confirm, danger, onConfirm }) {
  const titleId = "dialog-title";
  const ok = h("button", { type: "button", class: `btn ${danger ? "btn-danger" : "btn-primary"}` }, confirm);
  const cancel = h("button", { type: "button", class: "btn" }, "Cancel");
  const dialog = h(
    "dialog",
    { class: "dialog", "aria-labelledby": titleId },
    h("h2", { class: "section-title", id: titleId }, title),
    h("p", null, text),
    h("div", { class: "dialog-actions" }, cancel, ok),
  );
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", () => dialog.remove());
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    cancel.disabled = true;
    try {
      await onConfirm();
    } finally {
      if (dialog.isConnected) close();
    }
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  cancel.focus();
}

// ---- settings: read-only summary or the form -------------------------------------------

function retryText(p) {
  if (Array.isArray(p)) return p.length ? `Custom: after ${p.map(duration).join(", ")}` : "Custom: no retries";
  const preset = RETRY_PRESETS.find((x) => x.id === p);
  return preset ? `${preset.label}. ${preset.schedule}` : String(p);
}

async function settingsPanel(panel, ctx, i) {
  if (ctx.readOnly) {
    const o = i.format_options || {};
    const rows = [
      ["Name", i.name],
      ["URL", h("span", { class: "mono wrap" }, redactUrl(i.url))],
      ["Format", formatLabel(i.format)],
      ["Events", (i.events || []).join(", ")],
      ["Timeout", `${i.timeout_ms / 1000} s`],
      ["Retries", retryText(i.retry_policy)],
      ["Delivery order", orderingText(i.ordering)],
      ["Custom headers", Object.keys(i.headers || {}).length ? Object.entries(i.headers).map(([k, v]) => `${k}: ${v}`).join("\n") : "none"],
    ];
    if (o.license_id) rows.push(["LiveChat license", o.license_id]);
    if (o.data_types) rows.push(["LiveChat data types", o.data_types.join(", ")]);
    if (i.format === "olark") rows.push(["Olark extra events", o.extra_events ? "sent" : "not sent"]);
    rows.push(["Created", when(i.created_at)], ["Updated", when(i.updated_at)]);
    replace(panel, h("section", { class: "card" }, h("h2", { class: "section-title" }, "Settings"), dl(rows)));
    return;
  }
  replace(panel, loading("Loading the form…"));
  let types;
  try {
    types = await eventTypes();
  } catch (err) {
    if (ctx.alive()) replace(panel, failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  const del = h("button", { type: "button", class: "btn btn-danger" }, "Delete integration");
  const delOut = h("div", { "aria-live": "polite" });
  del.addEventListener("click", () =>
    confirmDialog({
      title: `Delete “${i.name}”?`,
      text: "Deliveries to this endpoint stop at once, pending retries included. The delivery log stays readable by its links only. This cannot be undone.",
      confirm: "Delete",
      danger: true,
      onConfirm: async () => {
        try {
          await api("DELETE", `/v1/integrations/${enc(i.id)}`);
          ctx.navigate("#/");
        } catch (err) {
          replace(delOut, inlineError(err));
        }
      },
    }),
  );
  replace(
    panel,
    h("section", { class: "card" }, h("h2", { class: "section-title" }, "Settings"), integrationForm(ctx, types, i)),
    h("section", { class: "card danger-zone" }, h("h2", { class: "section-title" }, "Delete"), h("p", { class: "muted" }, "Remove this integration and stop its deliveries."), del, delOut),
  );
}

export async function newIntegrationView(main, ctx) {
  if (ctx.readOnly) {
    replace(main, h("h1", { class: "page-title" }, "Add integration"), empty("This link is read-only.", "Ask for a full-access link to add integrations.", h("a", { href: "#/", class: "btn" }, "Back to integrations")));
    return;
  }
  replace(main, h("h1", { class: "page-title" }, "Add integration"), loading("Loading event types…"));
  let types;
  try {
    types = await eventTypes();
  } catch (err) {
    if (ctx.alive()) replace(main, h("h1", { class: "page-title" }, "Add integration"), failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Integrations"), h("span", { "aria-hidden": "true" }, " / "), h("span", null, "New")),
    h("h1", { class: "page-title" }, "Add integration"),
    h("p", { class: "muted" }, "Where should chat events go, and in which shape?"),
    h("section", { class: "card" }, integrationForm(ctx, types, null)),
  );
}

/** The create / edit form. `existing` is the integration being edited, or null. */
function integrationForm(ctx, types, existing) {
  const x = existing || {
    name: "",
    url: "",
    format: "standard",
    events: [],
    timeout_ms: 10000,
    retry_policy: "standard",
    ordering: "none",
    headers: {},
    format_options: {},
    enabled: true,
  };
  const fields = {};
  const name = h("input", { type: "text", name: "name", value: x.name, autocomplete: "off", maxlength: "200" });
  fields.name = field("Name", name, { name: "name", hint: "A label for you, such as the CRM it feeds." });
  const url = h("input", { type: "url", name: "url", value: x.url, autocomplete: "off", inputmode: "url", spellcheck: "false", placeholder: "https://crm.example.com/hooks/chat" });
  fields.url = field("Endpoint URL", url, {
    name: "url",
    hint: existing && /:\*\*\*@/.test(x.url) ? "The password in the URL is hidden; leave the URL as it is to keep it." : "Where deliveries are POSTed. Credentials in the URL are sent as HTTP Basic auth.",
  });
  const format = h("select", { name: "format" }, FORMATS.map((f) => h("option", { value: f.id, selected: f.id === x.format }, f.label)));
  const formatHint = h("p", { class: "hint" });
  fields.format = field("Payload format", format, { name: "format" });
  fields.format.appendChild(formatHint);

  // events: grouped checkboxes, only the ones the chosen format renders
  const chosen = new Set(x.events || []);
  const eventsBox = h("div", { class: "event-groups" });
  const eventsNote = h("p", { class: "hint", "aria-live": "polite" });
  fields.events = group("Send a request on", [eventsBox, eventsNote], { name: "events", hint: "Only the events the chosen format can render are offered." });

  const renderEvents = () => {
    const f = format.value;
    for (const box of eventsBox.querySelectorAll("input[type=checkbox]")) {
      if (box.checked) chosen.add(box.value);
      else chosen.delete(box.value);
    }
    const dropped = [];
    replace(eventsBox);
    const groups = [...GROUPS];
    for (const t of types) if (!groups.find((g) => g.id === t.group)) groups.push({ id: t.group, label: "Other" });
    for (const g of groups) {
      // webhook.test is what Send test sends; a chat never triggers it
      const inGroup = types.filter((t) => t.group === g.id && (t.formats || []).includes(f) && (t.type !== "webhook.test" || chosen.has(t.type)));
      if (!inGroup.length) continue;
      eventsBox.appendChild(
        h(
          "fieldset",
          { class: "event-group" },
          h("legend", null, g.label),
          inGroup.map((t) => {
            const id = `ev-${t.type.replace(/[^a-z0-9]/gi, "-")}`;
            return h(
              "div",
              { class: "check" },
              h("input", { type: "checkbox", id, name: "events", value: t.type, checked: chosen.has(t.type) }),
              h("label", { for: id }, h("span", { class: "mono" }, t.type), h("span", { class: "check-desc" }, t.description || "")),
            );
          }),
        ),
      );
    }
    const renderable = new Set(types.filter((t) => (t.formats || []).includes(f)).map((t) => t.type));
    for (const e of [...chosen]) {
      if (!renderable.has(e)) {
        dropped.push(e);
        chosen.delete(e);
      }
    }
    eventsNote.textContent = dropped.length ? `Not available in ${formatLabel(f)}, unselected: ${dropped.join(", ")}.` : "";
    const fmt = FORMATS.find((y) => y.id === f);
    formatHint.textContent = fmt ? fmt.hint : "";
  };

  // format options
  const o = x.format_options || {};
  const optsBox = h("div", { class: "format-options" });
  const token = h("input", { type: "text", name: "token", autocomplete: "off", spellcheck: "false", value: o.token && o.token !== "***" ? o.token : "", placeholder: o.token === "***" ? "set (hidden): leave empty to keep it" : "" });
  const tokenField = field("Token", token, { name: "format_options.token", hint: "Rocket.Chat: the X-RocketChat-Livechat-Token header; LiveChat: the body's token. Empty: the signing secret." });
  const license = h("input", { type: "text", name: "license_id", autocomplete: "off", value: o.license_id || "" });
  const licenseField = field("LiveChat license id", license, { name: "format_options.license_id", hint: "Sent as license_id in every body." });
  const allTypes = !o.data_types;
  const dataTypeBoxes = LIVECHAT_DATA_TYPES.map((d) => {
    const id = `dt-${d.id}`;
    return h("div", { class: "check" }, h("input", { type: "checkbox", id, name: "data_types", value: d.id, checked: allTypes || o.data_types.includes(d.id) }), h("label", { for: id }, d.label));
  });
  const dataTypesField = group("LiveChat data types", h("div", { class: "check-row" }, dataTypeBoxes), { name: "format_options.data_types", hint: "Which sections the payload includes (all that an event allows when every box is ticked)." });
  const extra = h("input", { type: "checkbox", id: "olark-extra", name: "extra_events", checked: Boolean(o.extra_events) });
  const extraField = h(
    "div",
    { class: "field", dataset: { field: "format_options.extra_events" } },
    h("div", { class: "check" }, extra, h("label", { for: "olark-extra" }, "Olark extra events", h("span", { class: "check-desc" }, "Also send the conversation start (chat.started), marked with eventType, as Olark's Extra Events Extension does."))),
    h("p", { class: "field-error", role: "alert", hidden: true }),
  );
  const renderOptions = () => {
    const f = format.value;
    replace(optsBox);
    const parts = [];
    if (f === "livechat") parts.push(licenseField, dataTypesField, tokenField);
    if (f === "rocketchat") parts.push(tokenField);
    if (f === "olark") parts.push(extraField);
    if (parts.length) optsBox.append(h("h3", { class: "sub-title" }, `${formatLabel(f)} options`), ...parts);
  };
  format.addEventListener("change", () => {
    renderEvents();
    renderOptions();
  });
  renderEvents();
  renderOptions();

  // delivery: timeout, retries, headers
  const timeout = h("input", { type: "number", name: "timeout", min: "1", max: "30", step: "1", value: String(Math.round(x.timeout_ms / 1000)), inputmode: "numeric" });
  fields.timeout_ms = field("Timeout (seconds)", timeout, { name: "timeout_ms", hint: "1 to 30 seconds; an endpoint slower than this counts as failed and is retried." });

  const rp = x.retry_policy;
  const presetId = Array.isArray(rp) ? "custom" : rp || "standard";
  const custom = h("input", { type: "text", name: "custom_retry", id: "retry-custom-delays", value: Array.isArray(rp) ? rp.join(", ") : "", placeholder: "10, 60, 600", inputmode: "numeric" });
  const customField = field("Custom delays (seconds)", custom, { className: "nested", hint: "Comma-separated, one delay per retry." });
  const radios = RETRY_PRESETS.map((p) => {
    const id = `retry-${p.id}`;
    return h(
      "div",
      { class: "check radio" },
      h("input", { type: "radio", id, name: "retry_policy", value: p.id, checked: p.id === presetId }),
      h("label", { for: id }, h("span", null, p.label), h("span", { class: "check-desc" }, p.schedule)),
    );
  });
  fields.retry_policy = group("Retries", [radios, customField], { name: "retry_policy", hint: "A delivery is retried while the endpoint fails (no answer, or a status other than 2xx)." });
  const syncCustom = () => {
    const on = fields.retry_policy.querySelector("input[name=retry_policy]:checked")?.value === "custom";
    customField.hidden = !on;
  };
  for (const r of fields.retry_policy.querySelectorAll("input[name=retry_policy]")) r.addEventListener("change", syncCustom);
  syncCustom();

  const orderingId = x.ordering || "none";
  fields.ordering = group(
    "Delivery order",
    ORDERINGS.map((o) => {
      const id = `ordering-${o.id}`;
      return h(
        "div",
        { class: "check radio" },
        h("input", { type: "radio", id, name: "ordering", value: o.id, checked: o.id === orderingId }),
        h("label", { for: id }, h("span", null, o.label), h("span", { class: "check-desc" }, o.desc)),
      );
    }),
    { name: "ordering", hint: "Events without a chat are never held back. A delivery whose retries run out lets the next one of its chat go." },
  );

  const headerRows = h("div", { class: "header-rows" });
  let headerSeq = 0;
  const addHeader = (k = "", v = "") => {
    headerSeq += 1;
    const n = h("input", { type: "text", name: "header_name", value: k, autocomplete: "off", spellcheck: "false", placeholder: "X-Api-Key" });
    const val = h("input", { type: "text", name: "header_value", value: v, autocomplete: "off", spellcheck: "false" });
    const row = h(
      "div",
      { class: "header-row" },
      field(`Header ${headerSeq} name`, n),
      field(`Header ${headerSeq} value`, val),
    );
    row.appendChild(h("button", { type: "button", class: "btn btn-quiet btn-small", onclick: () => row.remove() }, `Remove header ${headerSeq}`));
    headerRows.appendChild(row);
    return n;
  };
  for (const [k, v] of Object.entries(x.headers || {})) addHeader(k, v);
  fields.headers = group("Custom headers", [headerRows, h("button", { type: "button", class: "btn btn-small", onclick: () => addHeader().focus() }, "Add header")], {
    name: "headers",
    hint: "Sent with every delivery, e.g. an API key your endpoint expects. Not Host, Content-Type or webhook-* headers.",
  });

  const enabled = h("input", { type: "checkbox", id: "enabled", name: "enabled", checked: x.enabled });
  fields.enabled = h("div", { class: "field", dataset: { field: "enabled" } }, h("div", { class: "check" }, enabled, h("label", { for: "enabled" }, "Enabled", h("span", { class: "check-desc" }, "Send deliveries to this endpoint."))), h("p", { class: "field-error", role: "alert", hidden: true }));

  const formError = h("div", { class: "form-error", "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, existing ? "Save changes" : "Create integration");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("div", { class: "form-section" }, h("h3", { class: "sub-title" }, "Endpoint"), fields.name, fields.url, fields.format),
    h("div", { class: "form-section" }, fields.events),
    optsBox,
    h("div", { class: "form-section" }, h("h3", { class: "sub-title" }, "Delivery"), fields.timeout_ms, fields.retry_policy, fields.ordering, fields.headers, fields.enabled),
    formError,
    h("div", { class: "form-actions" }, submit, h("a", { href: existing ? `#/i/${enc(existing.id)}` : "#/", class: "btn btn-quiet" }, "Cancel")),
  );

  const collect = () => {
    const body = {
      name: name.value.trim(),
      url: url.value.trim(),
      format: format.value,
      events: [...form.querySelectorAll("input[name=events]:checked")].map((b) => b.value),
      timeout_ms: Math.round(Number(timeout.value) * 1000),
      enabled: enabled.checked,
      ordering: form.querySelector("input[name=ordering]:checked")?.value || "none",
    };
    const preset = form.querySelector("input[name=retry_policy]:checked")?.value || "standard";
    if (preset === "custom") {
      const raw = custom.value.trim();
      const parts = raw ? raw.split(/[\s,]+/).filter(Boolean) : [];
      const nums = parts.map((p) => Number(p));
      if (nums.some((n) => !Number.isInteger(n) || n < 0)) return { error: ["retry_policy", "Custom delays must be whole numbers of seconds, such as 10, 60, 600."] };
      body.retry_policy = nums;
    } else body.retry_policy = preset;
    const headers = {};
    for (const row of headerRows.querySelectorAll(".header-row")) {
      const k = row.querySelector("input[name=header_name]").value.trim();
      const v = row.querySelector("input[name=header_value]").value;
      if (!k && !v) continue;
      if (!k) return { error: ["headers", "Every header needs a name."] };
      headers[k] = v;
    }
    body.headers = headers;
    const f = format.value;
    const opts = {};
    if (f === "livechat" || f === "rocketchat") {
      if (token.value.trim()) opts.token = token.value.trim();
    }
    if (f === "livechat") {
      if (license.value.trim()) opts.license_id = license.value.trim();
      const picked = [...dataTypesField.querySelectorAll("input[name=data_types]:checked")].map((b) => b.value);
      if (picked.length !== LIVECHAT_DATA_TYPES.length) opts.data_types = picked;
    }
    if (f === "olark" && extra.checked) opts.extra_events = true;
    body.format_options = opts;
    if (Number.isNaN(body.timeout_ms)) return { error: ["timeout_ms", "Enter a number of seconds from 1 to 30."] };
    return { body };
  };

  const fieldFor = (path) => {
    if (!path) return null;
    const candidates = [path, path.replace(/\[\d+\]$/, ""), path.split(".").slice(0, 2).join("."), path.split(/[.[]/)[0]];
    for (const c of candidates) {
      const el = form.querySelector(`[data-field="${CSS.escape(c)}"]`);
      if (el) return el;
    }
    return null;
  };

  const clearErrors = () => {
    for (const w of form.querySelectorAll("[data-field]")) setFieldError(w, null);
    replace(formError);
  };

  const showError = (path, message) => {
    const wrap = fieldFor(path);
    if (wrap && !wrap.closest("[hidden]")) {
      setFieldError(wrap, message);
      const control = wrap.querySelector("input:not([type=hidden]), select, textarea, button");
      control?.focus();
      replace(formError, h("p", { class: "notice notice-error" }, "Please correct the field marked below."));
    } else {
      replace(formError, h("p", { class: "notice notice-error", role: "alert" }, message));
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const { body, error } = collect();
    if (error) {
      showError(error[0], error[1]);
      return;
    }
    let send = body;
    if (existing) {
      send = {};
      const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
      const sortedKeys = (obj) => Object.fromEntries(Object.entries(obj || {}).sort(([a], [b]) => a.localeCompare(b)));
      if (body.name !== existing.name) send.name = body.name;
      if (body.url !== existing.url) send.url = body.url;
      if (body.format !== existing.format) send.format = body.format;
      if (!same([...body.events].sort(), [...(existing.events || [])].sort()) || send.format) send.events = body.events;
      if (body.timeout_ms !== existing.timeout_ms) send.timeout_ms = body.timeout_ms;
      if (!same(body.retry_policy, existing.retry_policy)) send.retry_policy = body.retry_policy;
      if (body.ordering !== (existing.ordering || "none")) send.ordering = body.ordering;
      if (!same(sortedKeys(body.headers), sortedKeys(existing.headers))) send.headers = body.headers;
      const norm = (opts) => {
        const n = sortedKeys(opts);
        if (n.data_types) n.data_types = [...n.data_types].sort();
        if (!n.extra_events) delete n.extra_events;
        return n;
      };
      const hiddenToken = (existing.format_options || {}).token === "***";
      const withoutToken = (opts) => norm(Object.fromEntries(Object.entries(opts || {}).filter(([k]) => k !== "token")));
      const keepsToken = hiddenToken && !body.format_options.token && body.format === existing.format;
      // The API keeps the stored token when it is sent back as "***".
      const options = keepsToken ? { ...body.format_options, token: "***" } : body.format_options;
      const changed = keepsToken
        ? !same(withoutToken(body.format_options), withoutToken(existing.format_options))
        : !same(norm(body.format_options), norm(existing.format_options));
      if (changed) send.format_options = options;
      if (body.enabled !== existing.enabled) send.enabled = body.enabled;
      if (Object.keys(send).length === 0) {
        replace(formError, h("p", { class: "notice notice-ok", role: "status" }, "No changes to save."));
        return;
      }
    }
    submit.disabled = true;
    try {
      if (existing) {
        await api("PATCH", `/v1/integrations/${enc(existing.id)}`, send);
        setFlash("Changes saved.");
        ctx.navigate(`#/i/${enc(existing.id)}/settings`);
        return;
      }
      const created = await api("POST", "/v1/integrations", send);
      createdPanel(form, created);
    } catch (err) {
      if (err.status === 400 || err.status === 409) showError(err.field, err.message);
      else replace(formError, inlineError(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** After a creation: the secret, shown this once, then on to the integration. */
function createdPanel(form, created) {
  const panel = h(
    "div",
    { class: "created", role: "status" },
    h("h2", { class: "section-title" }, `“${created.name}” is ready`),
    h("p", null, "Configure your endpoint to verify signatures with this secret. You can reveal it again later under Signing secret."),
    h("div", { class: "secret-row" }, h("code", { class: "secret mono", "data-secret": "current" }, created.secret), copyButton("Copy", () => created.secret)),
    h("div", { class: "form-actions" }, h("a", { href: `#/i/${enc(created.id)}/test`, class: "btn btn-primary" }, "Send a test"), h("a", { href: `#/i/${enc(created.id)}`, class: "btn" }, "Open integration")),
  );
  form.replaceWith(panel);
  panel.querySelector("a")?.focus();
}
