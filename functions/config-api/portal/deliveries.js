// The delivery log of an integration, one delivery's page, retry and recover.
import { api, enc, eventTypes, qs } from "./api.js";
import { h, replace, field, setFieldError, when, badge, externalLink, prettyBody, formatDate } from "./dom.js";
import { loading, empty, failure, inlineError } from "./states.js";

const WINDOWS = [
  ["", "Any time"],
  ["3600", "Last hour"],
  ["86400", "Last 24 hours"],
  ["604800", "Last 7 days"],
  ["2592000", "Last 30 days"],
];

export function statusBadge(status) {
  const kind = { succeeded: "ok", failed: "bad", pending: "pending" }[status] || "neutral";
  const label = { succeeded: "Succeeded", failed: "Failed", pending: "Pending" }[status] || status;
  return badge(label, kind);
}

/** The id of a delivery, shortened for a table cell (msg_ and 8 hex digits). */
function shortId(id) {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/** The delivery a pending ordered delivery waits for (an earlier one of its chat), or null. */
function waitingOn(d) {
  return d.status === "pending" && d.waiting_for ? d.waiting_for : null;
}

function waitingLink(id, text) {
  return h("a", { href: `#/d/${enc(id)}`, class: "mono", title: id, "aria-label": `Waiting for delivery ${id}` }, text);
}

function lastResult(d) {
  if (d.last_status_code) return String(d.last_status_code);
  if (d.last_error) return d.last_error.length > 60 ? `${d.last_error.slice(0, 60)}…` : d.last_error;
  return "—";
}

export async function deliveriesPanel(panel, ctx, integration) {
  const filters = { status: "", event_type: "", window: "", chat_id: "" };
  let types = [];
  try {
    types = (await eventTypes()).filter((t) => (t.formats || []).includes(integration.format)).map((t) => t.type);
  } catch {
    types = [...(integration.events || []), "webhook.test"];
  }
  if (!ctx.alive()) return;

  const status = h("select", { name: "status" }, [["", "Any status"], ["succeeded", "Succeeded"], ["failed", "Failed"], ["pending", "Pending"]].map(([v, l]) => h("option", { value: v }, l)));
  const eventType = h("select", { name: "event_type" }, h("option", { value: "" }, "Any event"), types.map((t) => h("option", { value: t }, t)));
  const windowSel = h("select", { name: "window" }, WINDOWS.map(([v, l]) => h("option", { value: v }, l)));
  const chat = h("input", { type: "text", name: "chat_id", autocomplete: "off", spellcheck: "false", placeholder: "chat-42" });
  const fStatus = field("Status", status, { name: "status" });
  const fType = field("Event type", eventType, { name: "event_type" });
  const fWindow = field("Time window", windowSel, { name: "since" });
  const fChat = field("Chat id", chat, { name: "chat_id" });
  const apply = h("button", { type: "submit", class: "btn" }, "Apply filters");
  const reset = h("button", { type: "reset", class: "btn btn-quiet" }, "Clear filters");
  const form = h("form", { class: "filters", novalidate: true, role: "search", "aria-label": "Filter deliveries" }, fStatus, fType, fWindow, fChat, h("div", { class: "filter-actions" }, apply, reset));
  const list = h("div", { class: "log" });
  const more = h("div", { class: "more" });
  const summary = h("p", { class: "muted log-summary", "aria-live": "polite" });

  const load = async (cursor) => {
    for (const w of [fStatus, fType, fWindow, fChat]) setFieldError(w, null);
    const since = filters.window ? new Date(Date.now() - Number(filters.window) * 1000).toISOString() : "";
    const q = qs({ status: filters.status, event_type: filters.event_type, since, chat_id: filters.chat_id, limit: 25, cursor });
    if (!cursor) replace(list, loading("Loading deliveries…"));
    else replace(more, loading("Loading more…"));
    let page;
    try {
      page = await api("GET", `/v1/integrations/${enc(integration.id)}/deliveries${q}`);
    } catch (err) {
      if (!ctx.alive()) return;
      const target = { status: fStatus, event_type: fType, since: fWindow, chat_id: fChat }[err.field];
      if (err.status === 400 && target) {
        setFieldError(target, err.message);
        replace(list);
      } else if (!cursor) replace(list, failure(err, () => load(null)));
      else replace(more, inlineError(err));
      return;
    }
    if (!ctx.alive()) return;
    if (!cursor) {
      replace(list);
      if (page.items.length === 0) {
        const filtered = filters.status || filters.event_type || filters.window || filters.chat_id;
        list.appendChild(
          empty(
            filtered ? "No deliveries match these filters" : "No deliveries yet",
            filtered ? "Try a wider time window or clear the filters." : "Deliveries appear here as soon as a chat event for this integration arrives. Send a test to see one now.",
            filtered ? null : ctx.readOnly ? null : h("a", { class: "btn", href: `#/i/${enc(integration.id)}/test` }, "Send a test"),
          ),
        );
        summary.textContent = "";
      } else list.appendChild(table());
    }
    const body = list.querySelector("tbody");
    if (body) for (const d of page.items) body.appendChild(row(d));
    const shown = list.querySelectorAll("tbody tr").length;
    summary.textContent = shown ? `${shown} ${shown === 1 ? "delivery" : "deliveries"} shown, newest first.` : "";
    replace(more);
    if (page.next_cursor) more.appendChild(h("button", { type: "button", class: "btn", onclick: () => load(page.next_cursor) }, "Load older deliveries"));
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filters.status = status.value;
    filters.event_type = eventType.value;
    filters.window = windowSel.value;
    filters.chat_id = chat.value.trim();
    load(null);
  });
  form.addEventListener("reset", () => {
    setTimeout(() => {
      Object.assign(filters, { status: "", event_type: "", window: "", chat_id: "" });
      load(null);
    }, 0);
  });

  replace(
    panel,
    h("section", { class: "card" }, h("div", { class: "sub-head" }, h("h2", { class: "section-title" }, "Delivery log"), h("button", { type: "button", class: "btn btn-small btn-quiet", onclick: () => load(null) }, "Refresh")), form, summary, list, more),
    ctx.readOnly ? null : recoverSection(integration),
  );
  await load(null);
}

function table(withIntegration) {
  const cols = ["Created", ...(withIntegration ? ["Integration"] : []), "Event", "Status", "Attempts", "Last result", "Chat"];
  return h("table", { class: "log-table" }, h("thead", null, h("tr", null, cols.map((c) => h("th", { scope: "col" }, c)))), h("tbody"));
}

function row(d, names) {
  return h(
    "tr",
    { dataset: { delivery: d.id } },
    h("td", { "data-label": "Created" }, h("a", { href: `#/d/${enc(d.id)}`, "aria-label": `Delivery of ${d.event_type} at ${formatDate(d.created_at)}` }, formatDate(d.created_at))),
    names ? h("td", { "data-label": "Integration" }, h("a", { href: `#/i/${enc(d.integration_id)}` }, names.get(d.integration_id) || d.integration_id)) : null,
    h("td", { "data-label": "Event", class: "mono" }, d.event_type),
    h("td", { "data-label": "Status" }, h("div", { class: "status-cell" }, statusBadge(d.status), waitingOn(d) ? h("span", { class: "waiting" }, "Waiting for ", waitingLink(d.waiting_for, shortId(d.waiting_for))) : null)),
    h("td", { "data-label": "Attempts" }, String(d.attempt_count ?? "")),
    h("td", { "data-label": "Last result", class: "mono" }, lastResult(d)),
    h("td", { "data-label": "Chat", class: "mono" }, d.chat_id || "—"),
  );
}

function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function recoverSection(integration) {
  const since = h("input", { type: "datetime-local", name: "since", value: toLocalInput(new Date(Date.now() - 86400000)) });
  const f = field("Failed since", since, { name: "since", hint: "Your local time. Every delivery that failed since then is sent again, with a fresh set of retries." });
  const out = h("div", { "aria-live": "polite" });
  const btn = h("button", { type: "submit", class: "btn" }, "Recover failed deliveries");
  const form = h("form", { class: "inline-form", novalidate: true }, f, btn);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setFieldError(f, null);
    replace(out);
    const d = new Date(since.value);
    if (!since.value || Number.isNaN(d.getTime())) {
      setFieldError(f, "Pick a date and time.");
      return;
    }
    btn.disabled = true;
    try {
      const r = await api("POST", `/v1/integrations/${enc(integration.id)}/recover`, { since: d.toISOString() });
      replace(out, h("p", { class: "notice notice-ok", role: "status" }, r.requeued === 1 ? "1 failed delivery queued again." : `${r.requeued} failed deliveries queued again.`));
    } catch (err) {
      if (err.field === "since") setFieldError(f, err.message);
      else replace(out, inlineError(err));
    } finally {
      btn.disabled = false;
    }
  });
  return h("section", { class: "card" }, h("h2", { class: "section-title" }, "Recover"), h("p", { class: "muted" }, "After an outage of your endpoint, send every failed delivery again."), form, out);
}

// ---- one delivery ----------------------------------------------------------------

export async function deliveryView(main, ctx, id) {
  replace(main, loading("Loading delivery…"));
  let d;
  try {
    d = await api("GET", `/v1/deliveries/${enc(id)}`);
  } catch (err) {
    if (!ctx.alive()) return;
    if (err.status === 404) replace(main, h("h1", { class: "page-title" }, "Delivery not found"), empty("It may have expired from the log.", null, h("a", { href: "#/", class: "btn" }, "Back to integrations")));
    else replace(main, failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  const out = h("div", { "aria-live": "polite" });
  const attemptsBox = h("div", { class: "attempts" });
  const summaryBox = h("div");
  const statusSlot = h("span");
  const draw = (detail) => {
    replace(statusSlot, statusBadge(detail.status));
    const rows = [
      ["Event", h("span", { class: "mono" }, detail.event_type)],
      ["Event id", h("span", { class: "mono wrap" }, detail.event_id)],
      ["Delivery id (webhook-id)", h("span", { class: "mono wrap" }, detail.id)],
      ["Created", when(detail.created_at)],
      ["Attempts", String(detail.attempt_count)],
    ];
    if (detail.chat_id) rows.push(["Chat", h("span", { class: "mono" }, detail.chat_id)]);
    const waiting = waitingOn(detail);
    if (waiting) {
      const ahead = h("p", { class: "ahead" });
      rows.push([
        "Waiting for",
        h(
          "div",
          null,
          waitingLink(waiting, waiting),
          ahead,
          h("p", { class: "hint" }, "An earlier delivery of this chat is ahead: this integration sends one chat's deliveries at a time, in order. This one is attempted once that delivery has succeeded or run out of retries."),
        ),
      ]);
      aheadOf(ahead, waiting, ctx);
    }
    if (detail.next_attempt_at) rows.push(["Next attempt due", when(detail.next_attempt_at)]);
    if (detail.link) rows.push(["Returned link", externalLink(detail.link)]);
    replace(summaryBox, dlist(rows));
    replace(attemptsBox);
    const attempts = [...(detail.attempts || [])].sort((a, b) => b.number - a.number);
    if (!attempts.length) {
      attemptsBox.appendChild(
        empty("No attempts yet", waiting ? "The first attempt is made once the delivery it is waiting for is done." : "The first attempt is logged once the dispatcher takes the delivery."),
      );
    }
    for (const a of attempts) attemptsBox.appendChild(attemptCard(a));
  };
  const actions = h("div", { class: "actions" });
  if (!ctx.readOnly) {
    const retry = h("button", { type: "button", class: "btn btn-primary" }, "Retry now");
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      replace(out, loading("Queuing a new attempt…"));
      const before = d.attempt_count;
      try {
        await api("POST", `/v1/deliveries/${enc(d.id)}/retry`);
        replace(out, h("p", { class: "notice notice-ok", role: "status" }, "Queued: a new attempt is on its way."));
        for (let i = 0; i < 20 && ctx.alive(); i += 1) {
          await new Promise((r) => setTimeout(r, 1000));
          if (!ctx.alive()) return;
          const next = await api("GET", `/v1/deliveries/${enc(d.id)}`);
          if (next.attempt_count > before || next.status !== d.status) {
            d = next;
            draw(d);
            replace(out, h("p", { class: "notice notice-ok", role: "status" }, `Attempt ${d.attempt_count} logged.`));
            break;
          }
        }
      } catch (err) {
        replace(out, inlineError(err));
      } finally {
        retry.disabled = false;
      }
    });
    actions.appendChild(retry);
  }
  const refresh = h("button", { type: "button", class: "btn btn-quiet", onclick: () => ctx.rerender() }, "Refresh");
  actions.appendChild(refresh);
  replace(
    main,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/" }, "Integrations"),
      h("span", { "aria-hidden": "true" }, " / "),
      h("a", { href: `#/i/${enc(d.integration_id)}/deliveries` }, "Delivery log"),
      h("span", { "aria-hidden": "true" }, " / "),
      h("span", null, "Delivery"),
    ),
    h("div", { class: "page-head" }, h("div", { class: "title-row" }, h("h1", { class: "page-title" }, "Delivery"), statusSlot), actions),
    out,
    h("section", { class: "card" }, summaryBox),
    h("h2", { class: "section-title" }, "Attempts"),
    attemptsBox,
  );
  draw(d);
}

/** What the delivery ahead is doing: its event, status, attempts and next attempt. */
async function aheadOf(slot, id, ctx) {
  let a;
  try {
    a = await api("GET", `/v1/deliveries/${enc(id)}`);
  } catch {
    return; /* the link is enough */
  }
  if (!ctx.alive()) return;
  const tried = a.attempt_count === 1 ? "1 attempt" : `${a.attempt_count} attempts`;
  replace(
    slot,
    h("span", { class: "mono" }, a.event_type),
    " · ",
    statusBadge(a.status),
    ` · ${tried}`,
    a.last_status_code || a.last_error ? `, last: ${lastResult(a)}` : "",
    a.next_attempt_at ? h("span", null, " · next attempt ", when(a.next_attempt_at)) : null,
  );
}

function dlist(rows) {
  return h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

function attemptCard(a) {
  const ok = !a.error_kind && a.status_code >= 200 && a.status_code < 300;
  const rows = [
    ["Started", when(a.started_at)],
    ["Duration", `${a.duration_ms} ms`],
    ["Status", a.status_code != null ? String(a.status_code) : "no response"],
  ];
  if (a.error_kind) rows.push(["Error kind", h("span", { class: "mono" }, a.error_kind)]);
  if (a.error) rows.push(["Error", a.error]);
  if (a.next_attempt_at) rows.push(["Next attempt due", when(a.next_attempt_at)]);
  return h(
    "article",
    { class: `card attempt ${ok ? "is-ok" : "is-bad"}`, dataset: { attempt: String(a.number) } },
    h("div", { class: "card-head" }, h("h3", { class: "card-title" }, `Attempt ${a.number}`), ok ? badge("Succeeded", "ok") : badge("Failed", "bad")),
    dlist(rows),
    a.response_excerpt ? h("details", { class: "excerpt" }, h("summary", null, "Response excerpt"), h("pre", { class: "code" }, prettyBody(a.response_excerpt))) : null,
  );
}

// ---- one conversation across integrations -------------------------------------------

/** The search box for a conversation (a chat id), on the integrations page. */
export function conversationSearch(ctx, current) {
  const input = h("input", { type: "text", name: "chat", autocomplete: "off", spellcheck: "false", value: current || "", placeholder: "chat-42" });
  const f = field("Chat id", input, { name: "chat_id" });
  const form = h("form", { class: "inline-form conversation-search", role: "search", "aria-label": "Find a conversation", novalidate: true }, f, h("button", { type: "submit", class: "btn" }, "Find deliveries"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setFieldError(f, null);
    const id = input.value.trim();
    if (!id) {
      setFieldError(f, "Enter the id of a chat.");
      return;
    }
    ctx.navigate(`#/chats/${enc(id)}`);
  });
  return form;
}

export async function conversationView(main, ctx, chatId) {
  const list = h("div", { class: "log" });
  const more = h("div", { class: "more" });
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Integrations"), h("span", { "aria-hidden": "true" }, " / "), h("span", null, "Conversation")),
    h("div", { class: "page-head" }, h("div", null, h("h1", { class: "page-title" }, `Conversation ${chatId}`), h("p", { class: "muted" }, "Every delivery of this chat's events, to all your integrations, newest first."))),
    h("section", { class: "card" }, conversationSearch(ctx, chatId), list, more),
  );
  list.appendChild(loading("Loading deliveries…"));
  const names = new Map();
  try {
    const page = await api("GET", `/v1/integrations${qs({ limit: 100 })}`);
    for (const i of page.items) names.set(i.id, i.name);
  } catch {
    /* ids instead of names */
  }
  const load = async (cursor) => {
    let page;
    try {
      page = await api("GET", `/v1/deliveries${qs({ chat_id: chatId, limit: 25, cursor })}`);
    } catch (err) {
      if (!ctx.alive()) return;
      if (!cursor) replace(list, failure(err, () => load(null)));
      else replace(more, inlineError(err));
      return;
    }
    if (!ctx.alive()) return;
    if (!cursor) {
      replace(list);
      if (!page.items.length) {
        list.appendChild(empty("No deliveries for this chat", "Check the id: it is the chat's id in the events your chat product posts."));
        return;
      }
      list.appendChild(table(true));
    }
    const body = list.querySelector("tbody");
    for (const d of page.items) body.appendChild(row(d, names));
    replace(more);
    if (page.next_cursor) more.appendChild(h("button", { type: "button", class: "btn", onclick: () => load(page.next_cursor) }, "Load older deliveries"));
  };
  await load(null);
}
