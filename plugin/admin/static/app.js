// The Referrals page inside the Saleor Dashboard. Plain ES modules; no build step.

import { Bridge } from "./bridge.js";
import { Api, ApiError } from "./api.js";
import { h, clear, svg, table, percent, money, when } from "./dom.js";
import { SettingsForm } from "./settings.js";
import { followTheme } from "./frame.js";
import { SetupChecklist } from "./setup.js";
import { WebhooksPanel, disabledNotice } from "./webhooks.js";

const bridge = new Bridge();
const api = new Api(bridge);
const $ = (selector) => document.querySelector(selector);
const state = { started: false, tab: "overview", channels: [] };
const webhooks = new WebhooksPanel(api, $("#tab-webhooks"), { onChange: () => refreshCounters() });

followTheme(bridge);
bridge.on("handshake", () => start());
bridge.on("tokenRefresh", () => start());

if (!bridge.dashboardOrigin) {
  $("#auth-banner").textContent = "Open this page from the Saleor Dashboard (Apps → Referrals).";
}
bridge.notifyReady();

async function start() {
  if (state.started) return;
  state.started = true;
  try {
    const me = await api.get("/api/admin/me");
    $("#shop-line").textContent = `${me.shop_name || me.saleor_api_url} · signed in as ${me.email}`;
  } catch (error) {
    state.started = false;
    $("#auth-banner").textContent = error.status === 401 || error.status === 403
      ? `The Dashboard token was not accepted: ${error.message}`
      : `Could not reach the app: ${error.message}`;
    return;
  }
  $("#auth-banner").hidden = true;
  $("#tabs").hidden = false;
  $("#main").hidden = false;
  setupRange();
  setupTabs();
  checklist = new SetupChecklist(api, $("#setup"), { openSettings: () => showTab("settings") });
  checklist.load();
  await loadSettings();
  // The tabs are clickable while the settings load: keep a tab the merchant opened meanwhile.
  showTab(state.tab);
  refreshCounters();
}

// -- tabs ---------------------------------------------------------------------------------------------

function setupTabs() {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
}

function showTab(name) {
  state.tab = name;
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== name;
  const loaders = { overview: loadOverview, experiments: loadExperiments, review: loadReview,
                    advocates: loadAdvocates, emails: loadEmails, history: loadHistory,
                    webhooks: () => webhooks.load() };
  if (loaders[name]) loaders[name]();
}

function failure(target, error) {
  clear(target, h("p", { class: "error" }, error instanceof ApiError ? error.message : String(error)));
}

// -- settings ------------------------------------------------------------------------------------------

let settingsForm;
let checklist;

async function loadSettings() {
  settingsForm = new SettingsForm(api, $("#settings-fields"), {
    onSaved: (result) => {
      showProgramState(result.settings.enabled);
      checklist.load();
      bridge.notify("success", "Referral settings saved", "");
    },
    onStatus: (text) => { $("#settings-status").textContent = text; },
  });
  try {
    const data = await settingsForm.load();
    state.channels = data.channels;
    showProgramState(data.settings.enabled);
    const select = $("#range-form select[name=channel]");
    for (const ch of data.channels) select.append(h("option", { value: ch.slug }, `${ch.name} (${ch.currency})`));
    if (data.channels_source !== "saleor") {
      $("#settings-status").textContent = "Saleor did not answer; channels are those the app has seen.";
    }
  } catch (error) {
    failure($("#settings-fields"), error);
  }
}

function showProgramState(enabled) {
  const pill = $("#program-state");
  pill.hidden = false;
  pill.textContent = enabled ? "Program on" : "Program off";
  pill.className = "pill " + (enabled ? "on" : "off");
}

// -- overview --------------------------------------------------------------------------------------------

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function setupRange() {
  const form = $("#range-form");
  const today = new Date();
  form.elements.to.value = isoDay(today);
  form.elements.from.value = isoDay(new Date(today.getTime() - 29 * 86400000));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    loadOverview();
  });
  $("#export-csv").addEventListener("click", async () => {
    try {
      await api.download("/api/admin/stats.csv", rangeQuery(), "referrals.csv");
    } catch (error) {
      $("#overview-error").hidden = false;
      $("#overview-error").textContent = `Export failed: ${error.message}`;
    }
  });
}

function rangeQuery() {
  const form = $("#range-form");
  return { from: form.elements.from.value, to: form.elements.to.value, channel: form.elements.channel.value };
}

function metric(label, value, hint) {
  return h("div", { class: "metric" }, h("span", { class: "metric-label" }, label), h("strong", {}, value),
    hint ? h("small", { class: "muted" }, hint) : null);
}

async function loadOverview() {
  const target = $("#overview");
  $("#overview-error").hidden = true;
  clear(target, h("p", { class: "muted" }, "Loading…"));
  let report;
  try {
    report = await api.get("/api/admin/stats", { ...rangeQuery(), charts: 1 });
  } catch (error) {
    if (error.fields && Object.keys(error.fields).length) {
      $("#overview-error").hidden = false;
      $("#overview-error").textContent = Object.entries(error.fields).map(([k, v]) => `${k}: ${v}`).join("; ");
      clear(target);
    } else failure(target, error);
    return;
  }
  const unsubscribes = h("p", { class: "muted unsubscribes" },
    `Unsubscribed from invitations, reminders and updates in this range: ${report.unsubscribes}`);
  if (!report.groups.length) {
    clear(target, h("p", { class: "muted empty" }, "No referral activity in this range yet. Share the widget on your order confirmation page to get started."),
      report.unsubscribes ? unsubscribes : null);
    return;
  }
  clear(target, unsubscribes, report.groups.map((group) => {
    const m = group.money;
    const f = group.funnel;
    return h("section", { class: "card group", dataset: { channel: group.channel, currency: group.currency } },
      h("h2", {}, `${group.channel_name}`, h("span", { class: "muted" }, ` · ${group.currency || "no currency"}`)),
      h("div", { class: "metrics" },
        metric("Referred revenue", money(m.net_revenue, group.currency), m.refunded !== "0.00" ? `after ${money(m.refunded, group.currency)} refunded` : null),
        metric("Program cost", money(m.total_cost, group.currency), `rewards ${money(m.reward_cost, group.currency)} + friend discounts ${money(m.friend_discounts, group.currency)}`),
        metric("Net ROI", m.roi === null ? "—" : percent(m.roi), "(revenue − cost) / cost"),
        metric("New customers", String(m.new_customers), m.cost_per_customer ? `${money(m.cost_per_customer, group.currency)} each` : null),
        metric("Link clicks → paid", percent(group.rates.click_to_paid), `${f.clicks} clicks, ${f.paid_referrals} paid`),
        metric("Rewards used", `${f.rewards_used} / ${f.rewards_issued}`, f.rewards_revoked ? `${f.rewards_revoked} revoked` : null)),
      costByKind(m.reward_by_kind, group.currency),
      h("div", { class: "charts" },
        h("figure", {}, svg(group.charts.funnel)),
        h("figure", {}, svg(group.charts.daily)),
        h("figure", {}, svg(group.charts.money)),
        f.shares ? h("figure", {}, svg(group.charts.shares)) : null));
  }), report.totals_by_currency.length > 1 || report.groups.length > 1 ? totals(report.totals_by_currency) : null);
}

const KIND_LABELS = {
  FIXED: "Fixed vouchers", PERCENTAGE: "Percentage vouchers", FREE_SHIPPING: "Free shipping",
  STORE_CREDIT: "Store credit (gift cards)", COMMISSION: "Commission (gift cards)",
};

// What each kind of reward cost: face value issued, what customers redeemed (gift-card balance spent
// included), and the cost counted in ROI (docs/ADMIN_API.md, reward_by_kind).
function costByKind(byKind, currency) {
  const rows = Object.entries(byKind || {}).map(([kind, row]) => ({ kind, ...row }));
  if (!rows.length) return null;
  return h("div", { class: "cost-by-kind" }, h("h3", {}, "Reward cost per kind"),
    table([
      { label: "Kind", render: (r) => KIND_LABELS[r.kind] || r.kind },
      { label: "Issued", key: "issued", numeric: true },
      { label: "Used", key: "used", numeric: true },
      { label: "Revoked", key: "revoked", numeric: true },
      { label: "Face value issued", render: (r) => money(r.face_value, currency), numeric: true },
      { label: "Redeemed", render: (r) => money(r.redeemed, currency), numeric: true },
      { label: "Cost", render: (r) => money(r.cost, currency), numeric: true },
    ], rows));
}

function totals(rows) {
  return h("section", { class: "card" }, h("h2", {}, "Totals per currency"),
    table([
      { label: "Currency", key: "currency" },
      { label: "Channels", render: (r) => r.channels.join(", ") },
      { label: "New customers", key: "new_customers", numeric: true },
      { label: "Net revenue", key: "net_revenue", numeric: true },
      { label: "Total cost", key: "total_cost", numeric: true },
      { label: "ROI", render: (r) => percent(r.roi), numeric: true },
    ], rows));
}

// -- A/B test ---------------------------------------------------------------------------------------------

async function loadExperiments() {
  const target = $("#experiments");
  clear(target, h("p", { class: "muted" }, "Loading…"));
  let report;
  try {
    report = await api.get("/api/admin/experiments", rangeQuery());
  } catch (error) {
    failure(target, error);
    return;
  }
  const intro = h("p", { class: "muted" },
    report.enabled ? `A/B test running; ${report.holdout_percent} % holdout. Advocates who joined ${report.from} – ${report.to}.`
      : "No A/B test is running. Configure one at the end of the Settings tab.");
  if (!report.results.length) {
    clear(target, intro, h("p", { class: "muted empty" }, "No advocates in a variant yet."));
    return;
  }
  clear(target, intro, report.results.map((block) => h("section", { class: "card" },
    h("h2", {}, `Results in ${block.currency}`, h("span", { class: "muted" }, ` · control: ${block.control || "—"}`)),
    table([
      { label: "Variant", render: (a) => a.variant === "holdout" ? "Holdout (no offer)" : a.variant },
      { label: "Advocates", key: "advocates", numeric: true },
      { label: "Share rate", render: (a) => percent(a.share_rate), numeric: true },
      { label: "Conversion", render: (a) => percent(a.conversion), numeric: true },
      { label: "Revenue", render: (a) => money(a.revenue, block.currency), numeric: true },
      { label: "Reward cost", render: (a) => money(a.reward_cost, block.currency), numeric: true },
      { label: "Net / advocate", key: "net_per_advocate", numeric: true },
      { label: "vs control", render: (a) => a.vs_control
          ? `p = ${a.vs_control.p_value ?? "—"} · P(beats control) ${percent(a.vs_control.prob_to_beat_control)}` : "—" },
      { label: "Uplift vs holdout", render: (a) => a.uplift_vs_holdout
          ? `${a.uplift_vs_holdout.conversion === null ? "—" : (a.uplift_vs_holdout.conversion * 100).toFixed(1) + " pts"} (p = ${a.uplift_vs_holdout.p_value ?? "—"})` : "—" },
      { label: "", render: (a) => a.enough_data ? "" : `fewer than ${report.min_sample} advocates` },
    ], block.arms))));
}

// -- review queue -----------------------------------------------------------------------------------------

async function loadReview() {
  const target = $("#review");
  const queue = $("#review-queue").value;
  clear(target, h("p", { class: "muted" }, "Loading…"));
  let data;
  try {
    data = await api.get("/api/admin/referrals", { state: queue });
  } catch (error) {
    failure(target, error);
    return;
  }
  clear(target, table([
    { label: h("input", { type: "checkbox", "aria-label": "Select all", onchange: (e) => {
        for (const box of target.querySelectorAll("[data-select]")) box.checked = e.target.checked;
      } }), render: (r) => h("input", { type: "checkbox", dataset: { select: r.id }, "aria-label": `Select referral ${r.id}` }) },
    { label: "Order", render: (r) => `#${r.order.number || "?"}` },
    { label: "Friend", render: (r) => r.friend.email },
    { label: "Advocate", render: (r) => r.advocate.email ? `${r.advocate.email} (${r.advocate.code})` : r.advocate.code },
    { label: "Total", render: (r) => money(r.order_total, r.currency), numeric: true },
    { label: "Why", render: (r) => r.reasons.length
        ? h("ul", { class: "reasons" }, r.reasons.map((x) => h("li", {}, h("strong", {}, x.action), " ", x.reason)))
        : (r.history.at(-1)?.reason || "—") },
    { label: "", render: (r) => h("div", { class: "inline" },
        h("button", { type: "button", class: "secondary", onclick: () => decide([r.id], "approve") }, queue === "held" ? "Approve" : "Keep"),
        h("button", { type: "button", class: "danger", onclick: () => decide([r.id], "reject") }, "Reject")) },
  ], data.items, { empty: queue === "held" ? "Nothing is waiting for you." : "No flagged referrals to check." }));
}

async function decide(ids, action) {
  if (!ids.length) {
    $("#review-status").textContent = "Select referrals first.";
    return;
  }
  $("#review-status").textContent = action === "approve" ? "Approving…" : "Rejecting…";
  try {
    const result = await api.post("/api/admin/referrals/bulk", { action, ids });
    const failed = result.results.filter((r) => !r.ok);
    $("#review-status").textContent = `${result.ok} done` + (failed.length ? `, ${failed.length} not: ` + failed.map((r) => `#${r.id} ${r.error.message}`).join("; ") : ".");
  } catch (error) {
    $("#review-status").textContent = error.message;
  }
  loadReview();
  refreshCounters();
}

$("#review-queue").addEventListener("change", () => loadReview());
$("#bulk-approve").addEventListener("click", () => decide(selected(), "approve"));
$("#bulk-reject").addEventListener("click", () => decide(selected(), "reject"));

function selected() {
  return [...document.querySelectorAll("#review [data-select]:checked")].map((box) => Number(box.dataset.select));
}

// -- advocates, e-mails, history ------------------------------------------------------------------------------

async function loadAdvocates() {
  const target = $("#advocates");
  clear(target, h("p", { class: "muted" }, "Loading…"));
  try {
    const data = await api.get("/api/admin/advocates", rangeQuery());
    clear(target, table([
      { label: "Advocate", render: (a) => a.erased ? `${a.code} (erased)` : `${a.name || ""} ${a.email}`.trim() },
      { label: "Code", key: "code" },
      { label: "Variant", render: (a) => a.variant || "—" },
      { label: "Shares", key: "shares", numeric: true },
      { label: "Clicks", key: "clicks", numeric: true },
      { label: "Friends", key: "friends", numeric: true },
      { label: "Revenue", render: (a) => money(a.revenue, a.currency), numeric: true },
      { label: "Rewards", render: (a) => `${a.rewards} (${money(a.reward_value, a.currency)})`, numeric: true },
    ], data.items, { empty: "No advocate brought a friend in this range yet." }));
  } catch (error) {
    failure(target, error);
  }
}

async function loadEmails() {
  const target = $("#emails");
  clear(target, h("p", { class: "muted" }, "Loading…"));
  try {
    const data = await api.get("/api/admin/emails", { status: $("#emails-status").value });
    clear(target, table([
      { label: "To", key: "to" },
      { label: "E-mail", key: "subject" },
      { label: "Coupon", render: (e) => e.coupon_code || "—" },
      { label: "Attempts", key: "attempts", numeric: true },
      { label: "Problem", render: (e) => e.last_error || "—" },
      { label: "", render: (e) => h("button", { type: "button", class: "secondary", onclick: async (event) => {
          event.target.disabled = true;
          try {
            const result = await api.post(`/api/admin/emails/${e.id}/resend`);
            event.target.textContent = result.status === "sent" ? "Sent" : "Queued";
          } catch (error) {
            event.target.textContent = error.message;
          }
          refreshCounters();
        } }, "Send again") },
    ], data.items, { empty: "No e-mails here." }));
  } catch (error) {
    failure(target, error);
  }
}

$("#emails-status").addEventListener("change", () => loadEmails());

async function loadHistory() {
  const target = $("#history");
  try {
    const data = await api.get("/api/admin/settings/history");
    clear(target, data.items.length ? data.items.map((item) => h("article", { class: "card change" },
      h("p", {}, h("strong", {}, item.actor), h("span", { class: "muted" }, ` · ${when(item.at)}`)),
      h("ul", {}, Object.entries(item.changes).map(([path, change]) =>
        h("li", {}, h("code", {}, path), ": ", JSON.stringify(change.from), " → ", JSON.stringify(change.to))))))
      : h("p", { class: "muted empty" }, "No changes yet: the program runs on the defaults."));
  } catch (error) {
    failure(target, error);
  }
}

async function refreshCounters() {
  try {
    const [held, failed, hooks] = await Promise.all([
      api.get("/api/admin/referrals", { state: "held", limit: 100 }),
      api.get("/api/admin/emails", { status: "failed", limit: 100 }),
      api.get("/api/admin/webhooks"),
    ]);
    $("#review-count").textContent = held.items.length ? String(held.items.length) : "";
    $("#emails-count").textContent = failed.items.length ? String(failed.items.length) : "";
    const failedDeliveries = hooks.endpoints.reduce((sum, e) => sum + e.deliveries.failed, 0);
    $("#webhooks-count").textContent = failedDeliveries ? String(failedDeliveries) : "";
    showWebhooksNotice(disabledNotice(hooks));
  } catch {
    /* counters are a nicety */
  }
}

function showWebhooksNotice(lines) {
  const notice = $("#webhooks-notice");
  notice.hidden = !lines;
  if (!lines) return;
  clear(notice, lines.map((line) => h("p", {}, line)),
    h("button", { type: "button", class: "secondary", onclick: () => showTab("webhooks") },
      "Open Webhooks to fix and re-enable"));
}
