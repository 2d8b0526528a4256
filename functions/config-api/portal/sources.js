// Sources: URLs a chat platform posts its own webhooks to. A source's URL is
// stored hashed, so it is shown only once: when created or rotated.
import { api, enc } from "./api.js";
import { h, replace, field, setFieldError, when, badge, copyButton, relative } from "./dom.js";
import { loading, empty, failure, inlineError } from "./states.js";
import { confirmDialog } from "./integrations.js";

const PLATFORMS = [
  ["rocketchat", "Rocket.Chat"],
  ["livechat", "LiveChat"],
  ["olark", "Olark"],
  ["amplifyreach", "AmplifyReach"],
];

function platformLabel(p) {
  const found = PLATFORMS.find(([id]) => id === p);
  return found ? found[1] : p;
}

/** The URL just issued, with a copy button: shown this once. */
function urlOnce(url, text) {
  return h(
    "div",
    { class: "notice notice-ok url-once", role: "status" },
    h("p", { class: "url-once-text" }, text),
    h("div", { class: "secret-row" }, h("code", { class: "secret mono", "data-source-url": "" }, url), copyButton("Copy URL", () => url)),
    h("p", { class: "url-once-text" }, "Copy it now: it is not shown again."),
  );
}

function sourceCard(ctx, s, out, reload) {
  const actions = ctx.readOnly
    ? null
    : h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small",
            onclick: () =>
              confirmDialog({
                title: `New URL for “${s.name}”?`,
                text: "A new URL is issued and shown once. The current URL keeps working for 24 hours, so the platform's settings can be changed without losing a post.",
                confirm: "Rotate URL",
                onConfirm: async () => {
                  try {
                    const r = await api("POST", `/v1/sources/${enc(s.id)}/rotate`, {});
                    await reload();
                    const grace = r.previous_url_expires_at
                      ? h("span", null, `New URL for “${s.name}”. The previous one keeps working until `, when(r.previous_url_expires_at), ".")
                      : `New URL for “${s.name}”. The previous one no longer works.`;
                    replace(out, urlOnce(r.url, grace));
                  } catch (err) {
                    replace(out, inlineError(err));
                  }
                },
              }),
          },
          "Rotate URL",
        ),
        h(
          "button",
          {
            type: "button",
            class: "btn btn-small btn-danger",
            onclick: () =>
              confirmDialog({
                title: `Delete “${s.name}”?`,
                text: "Its URLs answer 404 from the next post on; the platform's posts are no longer delivered. This cannot be undone.",
                confirm: "Delete",
                danger: true,
                onConfirm: async () => {
                  try {
                    await api("DELETE", `/v1/sources/${enc(s.id)}`);
                    replace(out, h("p", { class: "notice notice-ok", role: "status" }, `Source “${s.name}” deleted.`));
                    await reload();
                  } catch (err) {
                    replace(out, inlineError(err));
                  }
                },
              }),
          },
          "Delete source",
        ),
      );
  return h(
    "article",
    { class: "card source", dataset: { id: s.id } },
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, s.name), actions),
    h(
      "div",
      { class: "meta" },
      badge(platformLabel(s.platform), "format"),
      badge(s.has_secret ? "Secret set" : "No secret", s.has_secret ? "ok" : "neutral"),
      h("span", { class: "muted source-created" }, "Created ", h("time", { datetime: s.created_at, title: s.created_at }, relative(s.created_at))),
    ),
    s.previous_url_expires_at
      ? h("p", { class: "muted source-grace" }, "The previous URL keeps working until ", when(s.previous_url_expires_at), ".")
      : null,
  );
}

function createForm(out, reload) {
  const name = h("input", { type: "text", name: "name", maxlength: 100, autocomplete: "off", required: true });
  const platform = h(
    "select",
    { name: "platform" },
    PLATFORMS.map(([id, label]) => h("option", { value: id }, label)),
  );
  const secret = h("input", { type: "text", name: "secret", maxlength: 256, autocomplete: "off", spellcheck: "false" });
  const nameField = field("Name", name, { name: "name", hint: "What posts to it, for example “Rocket.Chat production”." });
  const platformField = field("Platform", platform, { name: "platform" });
  const secretField = field("Platform secret (optional)", secret, {
    name: "secret",
    hint: "Checked on every post: Rocket.Chat's Secret Token, LiveChat's secret_key, or the password of https://user:password@ credentials. Without one, the URL alone admits a post.",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Create source");
  const fields = { name: nameField, platform: platformField, secret: secretField };
  const form = h("form", { class: "form", novalidate: true }, nameField, platformField, secretField, h("div", { class: "form-actions" }, submit));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of Object.values(fields)) setFieldError(f, null);
    if (!name.value.trim()) {
      setFieldError(nameField, "Give the source a name.");
      name.focus();
      return;
    }
    const body = { name: name.value.trim(), platform: platform.value };
    if (secret.value) body.secret = secret.value;
    submit.disabled = true;
    try {
      const created = await api("POST", "/v1/sources", body);
      form.reset();
      await reload();
      replace(out, urlOnce(created.url, `Source “${created.name}” created. Its URL, for ${platformLabel(created.platform)}'s webhook settings:`));
    } catch (err) {
      const target = err.field && fields[err.field];
      if (target) setFieldError(target, err.message);
      else replace(out, inlineError(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

export async function sourcesView(main, ctx) {
  const list = h("div", { class: "source-list" });
  const out = h("div", { class: "source-out", "aria-live": "polite" });
  const head = h(
    "div",
    { class: "page-head" },
    h(
      "div",
      null,
      h("h1", { class: "page-title" }, "Sources"),
      h("p", { class: "muted" }, "URLs your chat platform posts its own webhooks to: every event is delivered to your integrations. A URL is shown only when it is created or rotated."),
    ),
  );
  const reload = async () => {
    const r = await api("GET", "/v1/sources");
    if (!ctx.alive()) return;
    const items = r.items || [];
    if (items.length === 0) {
      replace(list, empty("No sources yet", ctx.readOnly ? "Sources are created with a full-access link or the API." : "Create one below, then paste its URL into your chat platform's webhook settings."));
    } else {
      replace(list, items.map((s) => sourceCard(ctx, s, out, reload)));
    }
  };
  replace(main, head, loading("Loading sources…"));
  try {
    await reload();
  } catch (err) {
    if (ctx.alive()) replace(main, head, failure(err, () => ctx.rerender()));
    return;
  }
  if (!ctx.alive()) return;
  replace(
    main,
    head,
    out,
    list,
    ctx.readOnly
      ? null
      : h("section", { class: "card source-new" }, h("h2", { class: "section-title" }, "Add source"), createForm(out, reload)),
  );
}
