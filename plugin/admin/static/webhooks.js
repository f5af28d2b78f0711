// The Webhooks tab: the merchant's endpoints, their signing secrets, the delivery log, "send again".

import { ApiError } from "./api.js";
import { h, clear, table, when } from "./dom.js";

const STATUS_TEXT = { pending: "Waiting for a retry", delivered: "Delivered", failed: "Failed" };

export class WebhooksPanel {
  constructor(api, root, { onChange } = {}) {
    this.api = api;
    this.root = root;
    this.onChange = onChange || (() => {});
    this.$ = (selector) => root.querySelector(selector);
    this.data = null;
    this.$("#webhook-form").addEventListener("submit", (event) => { event.preventDefault(); this.create(); });
    this.$("#webhook-log-endpoint").addEventListener("change", () => this.loadLog());
    this.$("#webhook-log-status").addEventListener("change", () => this.loadLog());
  }

  async load() {
    const target = this.$("#webhook-endpoints");
    try {
      this.data = await this.api.get("/api/admin/webhooks");
    } catch (error) {
      clear(target, h("p", { class: "error" }, error.message));
      return;
    }
    this.renderEvents();
    this.renderEndpoints();
    this.loadLog();
  }

  renderEvents() {
    const fieldset = this.$("#webhook-events");
    if (fieldset.querySelector("input")) return;
    const all = h("input", { type: "checkbox", checked: true, "data-event": "*", onchange: (e) => {
      for (const box of fieldset.querySelectorAll("[data-event]:not([data-event='*'])")) {
        box.checked = false;
        box.disabled = e.target.checked;
      }
    } });
    fieldset.append(h("label", {}, all, "All events (also ones added later)"));
    for (const type of this.data.event_types) {
      fieldset.append(h("label", {}, h("input", { type: "checkbox", "data-event": type, disabled: true }), type));
    }
  }

  renderEndpoints() {
    const target = this.$("#webhook-endpoints");
    const select = this.$("#webhook-log-endpoint");
    const chosen = select.value;
    clear(select, h("option", { value: "" }, "All endpoints"),
      this.data.endpoints.map((e) => h("option", { value: String(e.id) }, e.url)));
    select.value = this.data.endpoints.some((e) => String(e.id) === chosen) ? chosen : "";
    if (!this.data.endpoints.length) {
      clear(target, h("p", { class: "muted empty" }, "No endpoints yet. Add the address of your system below."));
      return;
    }
    clear(target, this.data.endpoints.map((endpoint) => this.renderEndpoint(endpoint)));
  }

  renderEndpoint(endpoint) {
    const status = endpoint.enabled
      ? (endpoint.failing_since
        ? h("span", { class: "state failing" }, `Failing since ${when(endpoint.failing_since)} (${endpoint.consecutive_failures} failed in a row)`)
        : h("span", { class: "state active" }, "Active"))
      : h("span", { class: "state disabled" }, endpoint.disabled_reason || "Disabled");
    const counts = endpoint.deliveries;
    const buttons = [];
    if (endpoint.enabled) {
      buttons.push(this.button("secondary", "Disable", () => this.update(endpoint, { enabled: false })));
    } else {
      buttons.push(this.button("", counts.failed ? `Enable and send the ${counts.failed} failed events` : "Enable",
        () => this.update(endpoint, counts.failed ? { enabled: true, resend_failed: true } : { enabled: true })));
      if (counts.failed) buttons.push(this.button("secondary", "Enable only", () => this.update(endpoint, { enabled: true })));
    }
    buttons.push(this.button("secondary", "Rotate secret", () => this.rotate(endpoint), "Rotate: click again"));
    buttons.push(this.button("danger", "Delete", () => this.remove(endpoint), "Delete: click again"));
    return h("article", { class: "card endpoint", dataset: { endpoint: endpoint.id, enabled: String(endpoint.enabled) } },
      h("span", { class: "url" }, endpoint.url),
      endpoint.description ? h("span", { class: "muted" }, endpoint.description) : null,
      h("span", { class: "muted" }, endpoint.events ? endpoint.events.join(", ") : "All events"),
      status,
      h("span", { class: "muted" }, `${counts.pending} waiting · ${counts.failed} failed`,
        endpoint.previous_secret_until ? ` · the previous secret also signs until ${when(endpoint.previous_secret_until)}` : ""),
      h("div", { class: "inline" }, buttons));
  }

  // A button that, with `confirmText`, needs a second click (no confirm(): the Dashboard iframe may forbid modals).
  button(kind, text, action, confirmText) {
    let armed = false;
    return h("button", { type: "button", class: kind || null, onclick: async (event) => {
      const button = event.currentTarget;
      if (confirmText && !armed) {
        armed = true;
        button.textContent = confirmText;
        return;
      }
      button.disabled = true;
      try {
        await action();
      } catch (error) {
        button.disabled = false;
        button.textContent = error instanceof ApiError ? error.message : String(error);
      }
    } }, text);
  }

  showSecret(url, secret) {
    const box = this.$("#webhook-secret");
    box.hidden = false;
    const code = h("code", { id: "webhook-secret-value" }, secret);
    clear(box, h("h2", {}, "Signing secret"),
      h("p", {}, "For ", h("strong", {}, url), ". Copy it into your system now: it is not shown again."),
      code,
      h("div", { class: "inline" },
        h("button", { type: "button", class: "secondary", onclick: async (event) => {
          try {
            await navigator.clipboard.writeText(secret);
            event.currentTarget.textContent = "Copied";
          } catch {
            window.getSelection().selectAllChildren(code);
            event.currentTarget.textContent = "Selected: press Ctrl+C";
          }
        } }, "Copy"),
        h("button", { type: "button", class: "secondary", onclick: () => { clear(box); box.hidden = true; } }, "I saved it")));
  }

  fieldErrors(fields) {
    for (const el of this.root.querySelectorAll("[data-error-for]")) {
      el.textContent = fields[el.dataset.errorFor] || "";
    }
    for (const input of this.root.querySelectorAll("#webhook-form [data-field]")) {
      input.setAttribute("aria-invalid", fields[input.dataset.field] ? "true" : "false");
    }
  }

  async create() {
    const form = this.$("#webhook-form");
    const chosen = [...form.querySelectorAll("[data-event]:checked")].map((box) => box.dataset.event);
    const body = {
      url: form.elements.url.value.trim(),
      description: form.elements.description.value,
      events: chosen.includes("*") ? null : chosen,
    };
    const status = this.$("#webhook-form-status");
    status.textContent = "Adding…";
    try {
      const result = await this.api.post("/api/admin/webhooks", body);
      this.fieldErrors({});
      status.textContent = "Added.";
      form.elements.url.value = "";
      form.elements.description.value = "";
      this.showSecret(result.endpoint.url, result.secret);
      await this.load();
    } catch (error) {
      this.fieldErrors(error.fields || {});
      status.textContent = `Not added: ${error.message}`;
    }
  }

  async update(endpoint, body) {
    await this.api.patch(`/api/admin/webhooks/${endpoint.id}`, body);
    await this.load();
    this.onChange();
  }

  async rotate(endpoint) {
    const result = await this.api.post(`/api/admin/webhooks/${endpoint.id}/rotate-secret`);
    this.showSecret(result.endpoint.url, result.secret);
    await this.load();
  }

  async remove(endpoint) {
    await this.api.delete(`/api/admin/webhooks/${endpoint.id}`);
    await this.load();
    this.onChange();
  }

  async loadLog() {
    const target = this.$("#webhook-log");
    clear(target, h("p", { class: "muted" }, "Loading…"));
    let data;
    try {
      data = await this.api.get("/api/admin/webhooks/deliveries", {
        endpoint: this.$("#webhook-log-endpoint").value, status: this.$("#webhook-log-status").value, limit: 100 });
    } catch (error) {
      clear(target, h("p", { class: "error" }, error.message));
      return;
    }
    clear(target, table([
      { label: "Event", render: (d) => h("span", {}, d.event_type, h("br"), h("small", { class: "muted" }, when(d.created_at)),
          h("br"), h("code", { class: "muted" }, d.webhook_id)) },
      { label: "Endpoint", render: (d) => h("span", { class: "url" }, d.endpoint.url) },
      { label: "Status", render: (d) => h("span", {},
          h("span", { dataset: { status: d.status } }, STATUS_TEXT[d.status] || d.status),
          h("br"), h("small", { class: "muted" }, `${d.attempts} ${d.attempts === 1 ? "try" : "tries"} · `,
            d.last_error || (d.last_status_code ? `HTTP ${d.last_status_code}` : "not tried yet")),
          d.status === "pending" && d.next_attempt_at ? h("small", { class: "muted" }, h("br"), `next try ${when(d.next_attempt_at)}`) : null) },
      { label: "", render: (d) => h("div", { class: "inline" },
          h("button", { type: "button", class: "secondary", dataset: { redeliver: d.id }, onclick: (event) => this.redeliver(d, event.currentTarget) }, "Send again"),
          h("button", { type: "button", class: "secondary", onclick: (event) => this.details(d, event.currentTarget) }, "Details")) },
    ], data.items, { empty: "No deliveries yet: events appear here once an endpoint is set up." }));
  }

  async redeliver(delivery, button) {
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      const result = await this.api.post(`/api/admin/webhooks/deliveries/${delivery.id}/redeliver`);
      button.textContent = result.history.at(-1)?.error ? `Failed: ${result.history.at(-1).error}` : "Sent";
      const row = button.closest("tr");
      const cell = row && row.querySelector("[data-status]");
      if (cell) {
        cell.dataset.status = result.status;
        cell.textContent = STATUS_TEXT[result.status] || result.status;
      }
    } catch (error) {
      button.textContent = error.message;
    }
    button.disabled = false;
    this.onChange();
  }

  async details(delivery, button) {
    const row = button.closest("tr");
    const next = row.nextElementSibling;
    if (next && next.classList.contains("delivery-detail")) {
      next.remove();
      return;
    }
    let data;
    try {
      data = await this.api.get(`/api/admin/webhooks/deliveries/${delivery.id}`);
    } catch (error) {
      button.textContent = error.message;
      return;
    }
    row.after(h("tr", { class: "delivery-detail" }, h("td", { colspan: "4" },
      h("h3", {}, "Payload"), h("pre", {}, JSON.stringify(data.payload, null, 2)),
      h("h3", {}, "Attempts"),
      data.history.length ? h("ul", {}, data.history.map((a) => h("li", {},
        `${when(a.at)} · ${a.status_code ? `HTTP ${a.status_code}` : "no answer"} · ${a.duration_ms} ms`,
        a.manual ? " · sent by hand" : "", a.error ? ` · ${a.error}` : "",
        a.response_body ? h("pre", {}, a.response_body) : null))) : h("p", { class: "muted" }, "Not tried yet."))));
  }
}

// The notice at the top of the page when an endpoint was disabled after repeated failure.
export function disabledNotice(data) {
  const disabled = (data.endpoints || []).filter((e) => !e.enabled && (e.disabled_reason || "").startsWith("Disabled automatically"));
  if (!disabled.length) return null;
  return disabled.map((e) => `Webhook endpoint ${e.url} was disabled on ${when(e.disabled_at)}: ${e.disabled_reason}`);
}
