// The webhook portal: session, shell, routing and the shared view states.
import { api, takeToken, forgetToken, setUnauthorizedHandler } from "./api.js";
import { h, replace, badge, formatDate } from "./dom.js";
import { loading, empty, failure } from "./states.js";
import { integrationsView, integrationView, newIntegrationView } from "./integrations.js";
import { deliveryView, conversationView } from "./deliveries.js";
import { catalogueView } from "./catalogue.js";
import { sourcesView } from "./sources.js";

const root = document.getElementById("app");
let session = null;
let generation = 0;
let expired = false;

// ---- routing --------------------------------------------------------------

export function navigate(hash) {
  if (window.location.hash === hash) render();
  else window.location.hash = hash;
}

function parseRoute() {
  const raw = (window.location.hash || "#/").replace(/^#/, "");
  const path = raw.split("?")[0];
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { view: "integrations", nav: "integrations" };
  if (parts[0] === "new") return { view: "new", nav: "integrations" };
  if (parts[0] === "i" && parts[1]) return { view: "integration", id: parts[1], tab: parts[2] || "deliveries", nav: "integrations" };
  if (parts[0] === "d" && parts[1]) return { view: "delivery", id: parts[1], nav: "integrations" };
  if (parts[0] === "chats" && parts[1]) return { view: "conversation", id: parts[1], nav: "integrations" };
  if (parts[0] === "events") return { view: "events", nav: "events" };
  if (parts[0] === "sources") return { view: "sources", nav: "sources" };
  return { view: "notfound", nav: "" };
}

function shell(route) {
  const readOnly = session && session.read_only;
  const navLink = (href, label, key) =>
    h("a", { href, class: "nav-link", "aria-current": route.nav === key ? "page" : null }, label);
  return h(
    "div",
    { class: "shell" },
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h(
      "header",
      { class: "topbar" },
      h(
        "div",
        { class: "topbar-inner" },
        h("a", { href: "#/", class: "brand" }, h("img", { src: "/portal/icon.svg", alt: "", width: 22, height: 22 }), h("span", null, "Webhooks")),
        h("nav", { class: "nav", "aria-label": "Sections" }, navLink("#/", "Integrations", "integrations"), navLink("#/sources", "Sources", "sources"), navLink("#/events", "Event catalogue", "events")),
        h(
          "div",
          { class: "session" },
          readOnly ? badge("Read-only", "neutral") : null,
          session && session.expires_at ? h("span", { class: "muted session-exp" }, `Link valid until ${formatDate(session.expires_at)}`) : null,
        ),
      ),
    ),
    h("main", { id: "main", class: "main", tabindex: "-1" }),
    h("footer", { class: "footer muted" }, "Signed with Standard Webhooks · delivered by chathooks"),
  );
}

async function render() {
  if (expired) return;
  generation += 1;
  const mine = generation;
  const route = parseRoute();
  replace(root, shell(route));
  const main = root.querySelector("main");
  const ctx = {
    session,
    readOnly: Boolean(session && session.read_only),
    alive: () => mine === generation && !expired,
    rerender: render,
    navigate,
  };
  try {
    switch (route.view) {
      case "integrations":
        await integrationsView(main, ctx);
        break;
      case "new":
        await newIntegrationView(main, ctx);
        break;
      case "integration":
        await integrationView(main, ctx, route.id, route.tab);
        break;
      case "delivery":
        await deliveryView(main, ctx, route.id);
        break;
      case "conversation":
        await conversationView(main, ctx, route.id);
        break;
      case "events":
        await catalogueView(main, ctx);
        break;
      case "sources":
        await sourcesView(main, ctx);
        break;
      default:
        replace(main, h("h1", { class: "page-title" }, "Page not found"), empty("There is nothing here.", null, h("a", { href: "#/", class: "btn" }, "Back to integrations")));
    }
  } catch (err) {
    if (ctx.alive()) replace(main, failure(err, render));
  }
  const title = main.querySelector("h1");
  if (title && ctx.alive()) {
    title.setAttribute("tabindex", "-1");
    document.title = `${title.textContent} · Webhooks`;
  }
}

function showExpired() {
  expired = true;
  forgetToken();
  document.title = "Link expired · Webhooks";
  replace(
    root,
    h(
      "main",
      { class: "main center", id: "main" },
      h(
        "div",
        { class: "card expired" },
        h("img", { src: "/portal/icon.svg", alt: "", width: 40, height: 40 }),
        h("h1", { class: "page-title" }, "This link has expired or was revoked"),
        h("p", null, "Portal links work for a limited time. Open the webhook settings again from your chat product to get a fresh link."),
      ),
    ),
  );
}

async function start() {
  setUnauthorizedHandler(showExpired);
  const token = takeToken();
  if (!token) {
    showExpired();
    return;
  }
  replace(root, h("main", { class: "main", id: "main" }, loading("Opening your webhook settings…")));
  try {
    session = await api("GET", "/v1/portal/session");
  } catch (err) {
    if (expired) return;
    replace(root, h("main", { class: "main", id: "main" }, failure(err, start)));
    return;
  }
  await render();
}

window.addEventListener("hashchange", async () => {
  if (!session) return;
  await render();
  const heading = root.querySelector("main h1");
  if (heading) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

start();
