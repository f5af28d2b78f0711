// The setup checklist: storefront settings, the widget seen on the storefront, a test order.
// It stays open until every step is done, then folds into one line (which still opens).

import { h, clear, when } from "./dom.js";

const SNIPPET_LABELS = { html: "HTML", nextjs: "Next.js (saleor/storefront)", django: "Django / Wagtail" };

export class SetupChecklist {
  constructor(api, target, { openSettings }) {
    this.api = api;
    this.target = target;
    this.openSettings = openSettings;
    this.kind = "html";
  }

  async load() {
    let data;
    try {
      data = await this.api.get("/api/admin/setup");
    } catch (error) {
      clear(this.target, h("p", { class: "error" }, `Setup checklist unavailable: ${error.message}`));
      this.target.hidden = false;
      return;
    }
    this.render(data);
  }

  render(data) {
    const steps = Object.fromEntries(data.steps.map((s) => [s.id, s]));
    const list = h("ol", { class: "steps" },
      this.storefront(steps.storefront), this.widgetSeen(steps.widget_seen), this.testOrder(steps.test_order));
    const again = h("button", { type: "button", class: "secondary", id: "setup-refresh", onclick: () => this.load() },
      "Check again");
    const done = data.steps.filter((s) => s.done).length;
    const content = data.complete
      ? h("details", { class: "card setup", dataset: { complete: "true" } },
          h("summary", {}, "Setup complete: your referral program is live"), list, again)
      : h("section", { class: "card setup", dataset: { complete: "false" } },
          h("h2", {}, "Set up your referral program"),
          h("p", { class: "muted" }, `${done} of ${data.steps.length} done. This list folds away once every step is done.`),
          list, again);
    clear(this.target, content);
    this.target.hidden = false;
  }

  step(step, title, ...body) {
    return h("li", { class: "step", dataset: { step: step.id, done: String(step.done) } },
      h("span", { class: "check", "aria-hidden": "true" }),
      h("strong", {}, title, h("span", { class: "visually-hidden" }, step.done ? " (done)" : " (to do)")),
      ...body);
  }

  storefront(step) {
    const status = step.done
      ? `Friends go to ${step.storefront_url}; the widget may show on ${step.origins.join(", ")}.`
      : "Set your storefront URL (or the link that applies a code) and your storefront's origins.";
    return this.step(step, "Tell the app where your storefront is",
      h("p", { class: "step-status" }, status),
      step.done ? null : h("p", {}, h("button", { type: "button", class: "secondary", onclick: this.openSettings },
        "Open the settings")));
  }

  widgetSeen(step) {
    const code = h("code", { id: "setup-snippet" }, step.snippets[this.kind]);
    const copied = h("span", { class: "muted", role: "status", id: "setup-copied" });
    const select = h("select", { id: "setup-snippet-kind", "aria-label": "Storefront" },
      Object.entries(SNIPPET_LABELS).map(([value, label]) => h("option", { value }, label)));
    select.value = this.kind;
    select.addEventListener("change", () => {
      this.kind = select.value;
      code.textContent = step.snippets[this.kind];
      copied.textContent = "";
    });
    const copy = h("button", { type: "button", id: "setup-copy", onclick: async () => {
      copied.textContent = (await copyText(step.snippets[this.kind])) ? "Copied" : "Select the text and copy it";
    } }, "Copy");
    const status = step.done
      ? `Widget seen on ${step.seen_origin} (${when(step.seen_at)}).`
      : "Not seen yet. Add this to your order confirmation page; it turns green when the widget first loads from one of your storefront origins.";
    return this.step(step, "Widget seen on your storefront",
      h("p", { class: "step-status", id: "setup-widget-status" }, status),
      h("div", { class: "inline" }, select, copy, copied),
      h("pre", {}, code),
      h("p", { class: "muted" }, "Replace ORDER_ID with the order's ID (order.id in Saleor's API). The kits are in the app's repository: integrations/nextjs and integrations/django."));
  }

  testOrder(step) {
    const status = step.done
      ? `${step.referred_orders} referred order(s) so far.`
      : `Orders seen: ${step.orders}; advocates: ${step.advocates}; referred orders: ${step.referred_orders}.`;
    return this.step(step, "Place a test order",
      h("ol", { class: "walkthrough" },
        h("li", {}, "Buy something on your storefront and pay: the share widget appears on the confirmation page."),
        h("li", {}, "Open your personal link from the widget in a private window and claim the friend's code."),
        h("li", {}, "Continue to the shop (the code is applied), and pay that order with another e-mail address."),
        h("li", {}, "Both rewards show up here: in the Overview, and in the order's Referral widget.")),
      h("p", { class: "step-status" }, status));
  }
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Dashboards that frame apps without clipboard-write: copy through a selected textarea.
    const area = h("textarea", { readonly: true, class: "visually-hidden" }, text);
    document.body.append(area);
    area.select();
    let done = false;
    try {
      done = document.execCommand("copy");
    } catch {
      done = false;
    }
    area.remove();
    return done;
  }
}
