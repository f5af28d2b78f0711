// The settings form: built from the loaded settings, read back into one document, saved with PUT.
// Every input carries data-path (e.g. "channels.default-channel.referrer.value"), the same dotted
// path the API uses in its per-field errors, so an error lands next to its field.

import { h, clear } from "./dom.js";
import { ApiError } from "./api.js";

const EMAIL_LABELS = {
  "invite": "Invitation after the first order",
  "reward.referrer": "Reward for the advocate",
  "reward.friend": "Reward for the friend",
  "offer": "Friend's welcome code",
};
const RULE_LABELS = {
  self_referral_user: "Friend is the advocate's own account",
  same_household: "Same shipping address",
  disposable_email: "Disposable e-mail address",
  velocity: "Too many rewards in 30 days",
  min_order_value: "Order below the minimum",
  friend_not_new: "Friend already ordered before",
  fast_click_to_order: "Order seconds after the click",
  coupon_site_referrer: "Came from a coupon site",
};
const TRIGGER_LABELS = { FULLY_PAID: "Fully paid", PAID: "Paid", FULFILLED: "Paid and fulfilled" };
const LANGUAGE_LABELS = { en: "English", ru: "Русский", pl: "Polski", lv: "Latviešu" };

const WIDGET_LABELS = { greeting: "Greeting", offer: "Offer line", intro: "Explanation", share_text: "Text shared with friends",
                        email_subject: "Subject when shared by e-mail" };

const SOCIAL_LABELS = { x: "X", facebook: "Facebook", telegram: "Telegram", whatsapp: "WhatsApp" };

// Hashtags are read back as a list (not by data-path): errors come as widget.hashtags.<index>.
function hashtagsBlock(tags) {
  return h("div", { class: "widget-hashtags field wide" },
    h("span", { class: "label" }, "Hashtags for shared posts (up to 3; letters, digits and _, no spaces)"),
    h("div", { class: "grid" }, [0, 1, 2].map((i) => h("div", { class: "field" },
      h("label", { for: `f-hashtag-${i}` }, `Hashtag ${i + 1}`),
      h("input", { id: `f-hashtag-${i}`, value: tags[i] ? `#${tags[i]}` : "", placeholder: "#", dataset: { hashtag: i, fieldPath: `widget.hashtags.${i}` } }),
      errorSlot(`widget.hashtags.${i}`)))),
    errorSlot("widget.hashtags"),
    h("div", { class: "share-preview", "aria-live": "polite" },
      h("h3", {}, "What the share buttons post"),
      h("p", { class: "muted" }, "X and Facebook take hashtags as their own parameter (Facebook only the first); Telegram and WhatsApp in the text."),
      h("dl", {}, Object.entries(SOCIAL_LABELS).map(([channel, label]) => [
        h("dt", {}, label), h("dd", { id: `widget-preview-share-${channel}` })]))));
}

function widgetText(settings, key, locale) {
  const value = settings.widget.texts?.[key];
  return value && typeof value === "object" ? value[locale] : value;
}

function get(obj, path) {
  return path.split(".").reduce((o, k) => (o && typeof o === "object" ? o[k] : undefined), obj);
}

function set(obj, path, value) {
  const keys = path.split(".");
  let node = obj;
  keys.slice(0, -1).forEach((k) => {
    if (!node[k] || typeof node[k] !== "object") node[k] = {};
    node = node[k];
  });
  node[keys[keys.length - 1]] = value;
}

function errorSlot(path) {
  return h("span", { class: "field-error", dataset: { errorFor: path }, role: "alert" });
}

function input(label, path, value, { type = "text", kind = "text", hint, attrs = {} } = {}) {
  const id = "f-" + path.replace(/[^A-Za-z0-9_-]/g, "_");
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, type, value: value ?? "", dataset: { path, kind }, ...attrs }),
    hint ? h("small", { class: "muted" }, hint) : null,
    errorSlot(path));
}

function select(label, path, value, options, { kind = "text" } = {}) {
  const id = "f-" + path.replace(/[^A-Za-z0-9_-]/g, "_");
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    h("select", { id, dataset: { path, kind } },
      options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) }, text))),
    errorSlot(path));
}

function checkbox(label, path, value) {
  return h("div", { class: "field check" },
    h("label", {}, h("input", { type: "checkbox", checked: Boolean(value), dataset: { path, kind: "bool" } }), " ", label),
    errorSlot(path));
}

function textarea(label, path, value, { kind = "text", hint, rows = 3 } = {}) {
  const id = "f-" + path.replace(/[^A-Za-z0-9_-]/g, "_");
  const text = kind === "lines" ? (value || []).join("\n") : value ?? "";
  return h("div", { class: "field wide" },
    h("label", { for: id }, label),
    h("textarea", { id, rows, dataset: { path, kind } }, text),
    hint ? h("small", { class: "muted" }, hint) : null,
    errorSlot(path));
}

const KIND_LABELS = {
  FIXED: "Fixed amount off", PERCENTAGE: "Percentage off", FREE_SHIPPING: "Free shipping",
  STORE_CREDIT: "Store credit (gift card)", COMMISSION: "Commission: % of the friend's order, as store credit",
};

// A reward: its kind, and what that kind needs (a value; a cap for a commission; nothing for free shipping).
function reward(label, path, value, currency, kinds = ["FIXED", "PERCENTAGE"]) {
  const kind = kinds.includes(value?.type) ? value.type : kinds[0];
  const unit = currency || "the channel's currency";
  const valueField = input("Value", `${path}.value`, value?.value, { kind: "decimal", hint: " ", attrs: { inputmode: "decimal" } });
  const capField = input("At most", `${path}.cap`, value?.cap, { kind: "decimal", hint: `per reward, in ${unit}`, attrs: { inputmode: "decimal" } });
  const hint = valueField.querySelector("small");
  const kindSelect = select("Kind", `${path}.type`, kind, kinds.map((k) => [k, KIND_LABELS[k] || k]));
  const show = () => {
    const chosen = kindSelect.querySelector("select").value;
    valueField.hidden = chosen === "FREE_SHIPPING";
    capField.hidden = chosen !== "COMMISSION";
    hint.textContent = chosen === "PERCENTAGE" || chosen === "COMMISSION" ? "% (0-100)" : `in ${unit}`;
  };
  kindSelect.querySelector("select").addEventListener("change", show);
  show();
  return h("fieldset", { class: "reward", dataset: { reward: path } }, h("legend", {}, label), kindSelect, valueField, capField);
}

// Tiers ("from" the Nth friend on) or milestones ("at" the Nth friend): rows read back as a list.
let ladderRows = 0;

function ladder(path, items, currency, kinds, key) {
  const list = h("div", { class: "ladder", dataset: { ladder: path, ladderKey: key } });
  const renumber = () => [...list.children].forEach((row, i) => {
    for (const el of row.querySelectorAll("[data-field]")) el.dataset.fieldPath = `${path}.${i}.${el.dataset.field}`;
    for (const slot of row.querySelectorAll("[data-slot]")) slot.dataset.errorFor = `${path}.${i}.${slot.dataset.slot}`;
  });
  const row = (item) => {
    const count = h("input", { type: "number", min: key === "from" ? 2 : 1, value: item?.[key] ?? "", dataset: { field: key } });
    const fields = reward(key === "from" ? "Reward per friend" : "Bonus", "", item?.reward, currency, kinds);
    for (const el of fields.querySelectorAll("[data-path]")) {
      el.dataset.field = `reward${el.dataset.path}`;  // ".type" → "reward.type"
      delete el.dataset.path;
    }
    for (const slot of fields.querySelectorAll("[data-error-for]")) slot.dataset.slot = `reward${slot.dataset.errorFor}`;
    const unique = `-${++ladderRows}`;  // each row's labels point at its own inputs
    for (const label of fields.querySelectorAll("label[for]")) label.htmlFor += unique;
    for (const el of fields.querySelectorAll("[id]")) el.id += unique;
    const element = h("div", { class: "ladder-row" },
      h("div", { class: "field" }, h("label", {}, key === "from" ? "From friend no." : "At friend no.", count),
        h("span", { class: "field-error", dataset: { slot: key } })),
      fields,
      h("button", { type: "button", class: "link", onclick: () => { element.remove(); renumber(); changed(list); } }, "Remove"));
    return element;
  };
  (items || []).forEach((item) => list.append(row(item)));
  renumber();
  const add = h("button", { type: "button", class: "secondary", onclick: () => { list.append(row({ reward: { type: kinds[0] } })); renumber(); changed(list); } },
    key === "from" ? "Add tier" : "Add milestone");
  return h("div", { class: "field wide" },
    h("span", { class: "label" }, key === "from"
      ? "Tiers — from the Nth rewarded friend on, each friend earns the advocate this instead (N ≥ 2, increasing)"
      : "Milestones — a one-off bonus when the Nth rewarded friend is approved (N increasing)"),
    list, errorSlot(path), h("div", {}, add));
}

function changed(node) {
  node.dispatchEvent(new Event("input", { bubbles: true }));
}

function rewardsBlock(path, value, currency, kinds) {
  return h("div", {},
    h("div", { class: "grid rewards" },
      reward("Advocate's reward (first friend; every friend without tiers)", `${path}.referrer`, value.referrer, currency, kinds.referrer),
      reward("Friend's reward (after the first order)", `${path}.friend`, value.friend, currency, kinds.friend),
      input("Minimum order", `${path}.min_order`, value.min_order, { kind: "decimal", hint: currency ? `in ${currency}; 0 = none` : "0 = none" }),
      input("Rewards expire after (days)", `${path}.expiry_days`, value.expiry_days, { type: "number", kind: "int", attrs: { min: 1 } })),
    ladder(`${path}.tiers`, value.tiers, currency, kinds.referrer, "from"),
    ladder(`${path}.milestones`, value.milestones, currency, kinds.milestone, "at"));
}

// What each kind keeps: free shipping has no value, only a commission has a cap.
function cleanReward(reward) {
  if (!reward || typeof reward !== "object") return;
  if (reward.type === "FREE_SHIPPING") delete reward.value;
  if (reward.type !== "COMMISSION") delete reward.cap;
}

function section(title, description, ...content) {
  return h("section", { class: "card" }, h("h2", {}, title), description ? h("p", { class: "muted" }, description) : null, content);
}

export class SettingsForm {
  constructor(api, root, { onSaved, onStatus }) {
    this.api = api;
    this.root = root;
    this.form = root.closest("form");
    this.onSaved = onSaved;
    this.status = onStatus;
    this.data = null;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
    this.form.addEventListener("input", (e) => {
      if (e.target.closest(".email-fields")) this.schedulePreview();
      if (e.target.closest(".reward-fields, .widget-texts, .widget-hashtags, .widget-preview")) this.scheduleWidgetPreview();
    });
    this.form.addEventListener("change", (e) => {
      if (e.target.closest(".reward-fields, .widget-preview")) this.scheduleWidgetPreview();
    });
  }

  async load() {
    this.data = await this.api.get("/api/admin/settings");
    this.render();
    return this.data;
  }

  render() {
    const { settings, channels, options } = this.data;
    const kinds = options.reward_kinds;
    const channelFieldsets = channels.map((ch) => {
      const own = settings.channels[ch.slug];
      const merged = { ...settings.default_rewards, ...(own || {}) };
      const body = h("div", { class: "channel-body", hidden: !own }, rewardsBlock(`channels.${ch.slug}`, merged, ch.currency, kinds));
      const toggle = h("input", { type: "checkbox", checked: Boolean(own), dataset: { channelToggle: ch.slug } });
      toggle.addEventListener("change", () => { body.hidden = !toggle.checked; });
      return h("fieldset", { class: "channel", dataset: { channel: ch.slug } },
        h("legend", {}, `${ch.name} (${ch.slug}, ${ch.currency || "?"})`),
        h("label", {}, toggle, " Own rewards for this channel"),
        errorSlot(`channels.${ch.slug}`),
        body);
    });
    const ab = settings.ab_test;
    this.variantList = h("div", { class: "variants" });
    (ab.variants.length ? ab.variants : []).forEach((v) => this.variantList.append(this.variantRow(v)));
    const preview = h("div", { class: "preview" },
      h("div", { class: "filters" },
        h("label", {}, "Preview ", h("select", { id: "preview-kind" }, Object.entries(EMAIL_LABELS).map(([k, t]) => h("option", { value: k }, t)))),
        h("label", {}, "Language ", h("select", { id: "preview-locale" }, options.languages.map((l) => h("option", { value: l }, LANGUAGE_LABELS[l] || l))))),
      h("p", { class: "preview-subject", id: "preview-subject" }),
      h("iframe", { id: "preview-frame", title: "E-mail preview", sandbox: "", referrerpolicy: "no-referrer" }));
    clear(this.root,
      section("Program", null,
        h("div", { class: "grid" },
          checkbox("Referral program is on", "enabled", settings.enabled),
          select("Reward when the friend's order is", "trigger_status", settings.trigger_status,
            options.trigger_statuses.map((s) => [s, TRIGGER_LABELS[s] || s])))),
      section("Rewards", "Values are in each channel's own currency; channels without their own rewards use the defaults. Store credit and commissions are Saleor gift cards.",
        h("div", { class: "reward-fields" },
          h("h3", {}, "Defaults"), rewardsBlock("default_rewards", settings.default_rewards, null, kinds),
          errorSlot("channels"),
          channelFieldsets),
        this.widgetPreviewPanel(channels, options, this.data.default_channel)),
      section("Friend's welcome offer", "The single-use code a friend gets on the advocate's landing page.",
        h("div", { class: "grid rewards" },
          reward("Offer", "friend_offer", settings.friend_offer, null, kinds.friend_offer),
          input("Code expires after (days)", "friend_offer.expiry_days", settings.friend_offer.expiry_days, { type: "number", kind: "int" }))),
      section("Trust and limits", "Holds give you time for returns; rules decide what happens to suspicious referrals.",
        h("div", { class: "grid" },
          input("Hold rewards for (days)", "hold_days", settings.hold_days, { type: "number", kind: "int", hint: "0 = reward immediately" }),
          input("Max rewards per advocate in 30 days", "caps.rewards_per_advocate_30d", settings.caps.rewards_per_advocate_30d, { type: "number", kind: "int" }),
          input("Max friend claims per link per day", "caps.claims_per_code_per_day", settings.caps.claims_per_code_per_day, { type: "number", kind: "int" })),
        h("div", { class: "grid" }, Object.entries(RULE_LABELS).map(([rule, label]) =>
          select(label, `fraud.rules.${rule}`, settings.fraud.rules[rule] || "", [["", "Default"], ["allow", "Allow"], ["flag", "Flag (reward, review later)"], ["hold", "Hold for review"], ["block", "Block"]], { kind: "optional" }))),
        textarea("Extra coupon-site domains", "fraud.coupon_site_domains", settings.fraud.coupon_site_domains, { kind: "lines", hint: "One per line, e.g. deals.example.com" })),
      section("Storefront", "Where links in e-mails and the widget send people.",
        h("div", { class: "grid" },
          input("Storefront URL", "storefront_url", settings.storefront_url, { type: "url", hint: "https://shop.example.com/" }),
          input("Link that applies a code", "storefront_url_template", settings.storefront_url_template, { hint: "e.g. https://shop.example.com/cart?promo={code}&ref={referral_code}" })),
        textarea("Storefront origins allowed to show the widget", "storefront_origins", settings.storefront_origins, { kind: "lines", hint: "One per line, e.g. https://shop.example.com" })),
      section("E-mails", "Subjects and an opening paragraph of your own. Placeholders: {shop}, {first_name}, {value}, {advocate}, {friend_offer}, {referrer_reward}.",
        h("div", { class: "email-fields" },
          h("div", { class: "grid" },
            input("Sender", "email.sender", settings.email.sender, { hint: "Shop <shop@example.com>: the name is shown as the sender, replies go to the address" }),
            input("Reply-to", "email.reply_to", settings.email.reply_to)),
          Object.entries(EMAIL_LABELS).map(([kind, label]) => h("fieldset", {},
            h("legend", {}, label),
            input("Subject", `email.subjects.${kind}`, settings.email.subjects[kind], { kind: "optional" }),
            textarea("Opening paragraph", `email.intros.${kind}`, settings.email.intros[kind], { kind: "optional", rows: 2 })))),
        preview),
      section("Reminders and updates", "E-mails people can unsubscribe from (each carries a one-click unsubscribe link). Codes and rewards are always sent.",
        h("div", { class: "grid" },
          input("Remind friends before their code expires (days)", "messages.friend_reminder_days", settings.messages.friend_reminder_days,
                { type: "number", kind: "int", hint: "Only friends who tick \"Remind me\" on the landing page; 1–30, fewer than the code lasts" }),
          checkbox("Tell advocates when a friend's reward is on hold (with the date)", "messages.updates.held", settings.messages.updates.held),
          checkbox("Tell advocates their reward is on its way when creating it takes long", "messages.updates.counted", settings.messages.updates.counted),
          checkbox("Show advocates their progress to the next tier or milestone", "messages.updates.progress", settings.messages.updates.progress))),
      section("Widget and languages", "Texts of the share widget after checkout; empty fields use the built-in text shown in grey. Placeholders: {shop}, {first_name}, {friend_offer}, {referrer_reward}.",
        options.languages.map((l) => h("details", { class: "widget-texts" },
          h("summary", {}, `Widget texts — ${LANGUAGE_LABELS[l] || l}`),
          h("div", { class: "grid" }, Object.entries(options.widget_texts[l] || {}).map(([key, fallback]) => key === "title"
            ? input("Title", `widget.title.${l}`, settings.widget.title?.[l], { kind: "optional", attrs: { placeholder: fallback } })
            : input(WIDGET_LABELS[key] || key, `widget.texts.${key}.${l}`, widgetText(settings, key, l),
                    { kind: "optional", attrs: { placeholder: fallback } }))))),
        hashtagsBlock(settings.widget.hashtags || []),
        h("div", { class: "field wide" }, h("span", { class: "label" }, "Languages offered"),
          h("div", { class: "inline" }, options.languages.map((l) => h("label", {},
            h("input", { type: "checkbox", checked: settings.languages.includes(l), dataset: { language: l } }), " ", LANGUAGE_LABELS[l] || l))),
          errorSlot("languages")),
        select("Default language", "default_locale", settings.default_locale, options.languages.map((l) => [l, LANGUAGE_LABELS[l] || l]))),
      section("A/B test of the offer", "2 to 4 variants; the first is the control. A holdout gets no offer at all, to measure the true uplift. Advocates keep their variant.",
        h("div", { class: "grid" },
          checkbox("Run the A/B test", "ab_test.enabled", ab.enabled),
          input("Holdout (% of new advocates, no offer)", "ab_test.holdout_percent", ab.holdout_percent, { kind: "decimal" })),
        errorSlot("ab_test.variants"),
        this.variantList,
        h("button", { type: "button", class: "secondary", onclick: () => this.addVariant() }, "Add variant")));
    this.form.querySelector("#preview-kind").addEventListener("change", () => this.preview());
    this.form.querySelector("#preview-locale").addEventListener("change", () => this.preview());
    this.preview();
    this.widgetPreview();
  }

  // The widget as an advocate with N rewarded friends would see it, with the settings being edited.
  widgetPreviewPanel(channels, options, defaultChannel) {
    return h("div", { class: "widget-preview" },
      h("h3", {}, "Widget preview"),
      h("div", { class: "filters" },
        h("label", {}, "Language ", h("select", { id: "widget-preview-locale" }, options.languages.map((l) => h("option", { value: l }, LANGUAGE_LABELS[l] || l)))),
        channels.length ? h("label", {}, "Channel ", h("select", { id: "widget-preview-channel" }, channels.map((c) => h("option", { value: c.slug, selected: c.slug === defaultChannel }, `${c.name} (${c.currency})`)))) : null,
        h("label", {}, "Friends rewarded so far ", h("input", { id: "widget-preview-rewarded", type: "number", min: 0, max: 10000, value: 0 }))),
      h("div", { class: "widget-sample", "aria-live": "polite" },
        h("p", { class: "sample-greeting", id: "widget-preview-greeting" }),
        h("p", { class: "sample-offer", id: "widget-preview-offer" }),
        h("p", { class: "sample-intro", id: "widget-preview-intro" }),
        h("progress", { id: "widget-preview-bar", hidden: true }),
        h("p", { class: "sample-progress", id: "widget-preview-progress" })),
      h("p", { class: "field-error", id: "widget-preview-error", role: "alert" }));
  }

  scheduleWidgetPreview() {
    clearTimeout(this.widgetTimer);
    this.widgetTimer = setTimeout(() => this.widgetPreview(), 400);
  }

  async widgetPreview() {
    const $ = (id) => this.form.querySelector(`#widget-preview-${id}`);
    const settings = this.collect();
    const rewarded = Number.parseInt($("rewarded").value, 10);
    try {
      const result = await this.api.post("/api/admin/widget-preview", {
        locale: $("locale").value, channel: $("channel")?.value, rewarded: Number.isNaN(rewarded) ? 0 : rewarded,
        settings: { default_rewards: settings.default_rewards, channels: settings.channels, friend_offer: settings.friend_offer,
                    widget: settings.widget, languages: settings.languages, default_locale: settings.default_locale },
      });
      this.showHashtagErrors({});
      $("error").textContent = "";
      $("greeting").textContent = result.greeting;
      $("offer").textContent = result.offer;
      $("intro").textContent = result.intro;
      $("progress").textContent = result.progress;
      for (const [channel, post] of Object.entries(result.share || {})) {
        const slot = $(`share-${channel}`);
        if (slot) slot.textContent = post.text;
      }
      $("bar").hidden = !result.goal;
      if (result.goal) {
        $("bar").max = result.goal[1];
        $("bar").value = result.goal[0];
        $("bar").setAttribute("aria-label", result.progress);
      }
    } catch (error) {
      if (error instanceof ApiError && error.fields) this.showHashtagErrors(error.fields);
      $("error").textContent = error instanceof ApiError && error.fields && Object.keys(error.fields).length
        ? "Preview needs valid settings: " + Object.entries(error.fields).map(([k, v]) => `${k} ${v}`).join("; ")
        : `Preview unavailable: ${error.message}`;
    }
  }


  // While typing, a hashtag's problem shows next to it (the preview checks the settings being edited).
  showHashtagErrors(fields) {
    for (const slot of this.form.querySelectorAll('.widget-hashtags [data-error-for]')) {
      slot.textContent = fields[slot.dataset.errorFor] || "";
    }
    for (const el of this.form.querySelectorAll("[data-hashtag]")) {
      if (fields[el.dataset.fieldPath]) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    }
  }

  variantRow(variant = {}) {
    const index = () => [...this.variantList.children].indexOf(row);
    const row = h("fieldset", { class: "variant" },
      h("legend", {}, "Variant"),
      h("div", { class: "grid" },
        h("div", { class: "field" }, h("label", {}, "Name"), h("input", { value: variant.name || "", dataset: { variant: "name" } }), h("span", { class: "field-error", dataset: { variantError: "name" } })),
        h("div", { class: "field" }, h("label", {}, "Weight"), h("input", { value: variant.weight ?? "1", inputmode: "decimal", dataset: { variant: "weight" } }), h("span", { class: "field-error", dataset: { variantError: "weight" } })),
        ["referrer", "friend", "friend_offer"].map((side) => h("div", { class: "field" },
          h("label", {}, { referrer: "Advocate's reward", friend: "Friend's reward", friend_offer: "Friend's welcome offer" }[side]),
          h("div", { class: "inline" },
            h("select", { dataset: { variant: `${side}.type` } },
              [["", "Same as program"], ["FIXED", "Fixed"], ["PERCENTAGE", "%"]].map(([v, t]) => h("option", { value: v, selected: (variant[side]?.type || "") === v }, t))),
            h("input", { value: variant[side]?.value ?? "", placeholder: "value", inputmode: "decimal", dataset: { variant: `${side}.value` } })),
          h("span", { class: "field-error", dataset: { variantError: side } })))),
      h("button", { type: "button", class: "link", onclick: () => row.remove() }, "Remove variant"));
    row.index = index;
    return row;
  }

  addVariant() {
    const n = this.variantList.children.length;
    if (n >= 4) return;
    this.variantList.append(this.variantRow({ name: n === 0 ? "control" : `variant-${String.fromCharCode(97 + n)}`, weight: "1" }));
  }

  collect() {
    const doc = structuredClone(this.data.settings);
    doc.channels = {};
    doc.email.subjects = {};
    doc.email.intros = {};
    doc.widget = { ...(doc.widget || {}), title: {}, texts: { ...(doc.widget?.texts || {}) } };
    for (const key of Object.keys(this.data.options.widget_texts.en || {})) delete doc.widget.texts[key];
    doc.widget.hashtags = [...this.form.querySelectorAll("[data-hashtag]")].map((el) => el.value.trim());
    doc.fraud.rules = {};
    for (const el of this.form.querySelectorAll("[data-path]")) {
      const path = el.dataset.path;
      if (path.startsWith("channels.")) {
        const slug = el.closest("[data-channel]").dataset.channel;
        if (!this.form.querySelector(`[data-channel-toggle="${CSS.escape(slug)}"]`).checked) continue;
      }
      const kind = el.dataset.kind;
      let value;
      if (kind === "bool") value = el.checked;
      else if (kind === "int") value = /^-?\d+$/.test(el.value.trim()) ? parseInt(el.value, 10) : el.value;
      else if (kind === "lines") value = el.value.split("\n").map((s) => s.trim()).filter(Boolean);
      else value = el.value;
      if (kind === "optional" && !String(value).trim()) continue;
      set(doc, path, value);
    }
    for (const list of this.form.querySelectorAll("[data-ladder]")) {
      const channel = list.closest("[data-channel]");
      if (channel && !this.form.querySelector(`[data-channel-toggle="${CSS.escape(channel.dataset.channel)}"]`).checked) continue;
      const key = list.dataset.ladderKey;
      set(doc, list.dataset.ladder, [...list.children].map((row) => {
        const field = (name) => row.querySelector(`[data-field="${name}"]`).value.trim();
        const count = field(key);
        const item = { [key]: /^\d+$/.test(count) ? parseInt(count, 10) : count,
                       reward: { type: field("reward.type"), value: field("reward.value"), cap: field("reward.cap") } };
        cleanReward(item.reward);
        return item;
      }));
    }
    for (const block of [doc.default_rewards, ...Object.values(doc.channels)]) {
      cleanReward(block.referrer);
      cleanReward(block.friend);
    }
    cleanReward(doc.friend_offer);
    doc.languages = [...this.form.querySelectorAll("[data-language]")].filter((c) => c.checked).map((c) => c.dataset.language);

    doc.ab_test.variants = [...this.variantList.children].map((row) => {
      const value = (name) => row.querySelector(`[data-variant="${name}"]`).value.trim();
      const variant = { name: value("name"), weight: value("weight") };
      for (const side of ["referrer", "friend", "friend_offer"]) {
        if (value(`${side}.type`)) variant[side] = { type: value(`${side}.type`), value: value(`${side}.value`) };
      }
      return variant;
    });
    return doc;
  }

  showErrors(fields) {
    for (const slot of this.form.querySelectorAll("[data-error-for], [data-variant-error]")) slot.textContent = "";
    for (const el of this.form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const unplaced = [];
    for (const [path, message] of Object.entries(fields)) {
      const variant = /^ab_test\.variants\.(\d+)\.([a-z_]+)/.exec(path);
      let slot = null;
      if (variant) {
        const row = this.variantList.children[Number(variant[1])];
        slot = row && row.querySelector(`[data-variant-error="${variant[2]}"]`);
      } else {
        slot = this.form.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
        if (!slot && /^languages\.\d+$/.test(path)) slot = this.form.querySelector('[data-error-for="languages"]');
      }
      const target = this.form.querySelector(`[data-path="${CSS.escape(path)}"], [data-field-path="${CSS.escape(path)}"]`);
      if (target) target.setAttribute("aria-invalid", "true");
      if (slot) slot.textContent = message;
      else unplaced.push(`${path}: ${message}`);
    }
    const summary = this.form.querySelector("#settings-errors");
    const count = Object.keys(fields).length;
    summary.hidden = count === 0;
    summary.textContent = count ? `Please fix ${count} field${count > 1 ? "s" : ""}.` + (unplaced.length ? " " + unplaced.join("; ") : "") : "";
    const first = this.form.querySelector("[aria-invalid]");
    if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
  }

  async save() {
    const button = this.form.querySelector("#save-settings");
    button.disabled = true;
    this.status("Saving…");
    try {
      const result = await this.api.put("/api/admin/settings", { settings: this.collect(), version: this.data.version });
      this.data.settings = result.settings;
      this.data.version = result.version;
      this.showErrors({});
      this.status(result.changed.length ? `Saved (${result.changed.length} change${result.changed.length > 1 ? "s" : ""}).` : "Saved; nothing had changed.");
      this.onSaved(result);
    } catch (error) {
      if (error instanceof ApiError && error.code === "INVALID_SETTINGS") {
        this.showErrors(error.fields);
        this.status("Not saved.");
      } else {
        this.status(`Not saved: ${error.message}`);
      }
    } finally {
      button.disabled = false;
    }
  }

  schedulePreview() {
    clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.preview(), 400);
  }

  async preview() {
    const frame = this.form.querySelector("#preview-frame");
    const subject = this.form.querySelector("#preview-subject");
    const settings = this.collect();
    try {
      const result = await this.api.post("/api/admin/email-preview", {
        kind: this.form.querySelector("#preview-kind").value,
        locale: this.form.querySelector("#preview-locale").value,
        settings: { email: settings.email, languages: settings.languages, default_locale: settings.default_locale,
                    default_rewards: settings.default_rewards, channels: settings.channels, friend_offer: settings.friend_offer },
      });
      subject.textContent = `Subject: ${result.subject}`;
      frame.srcdoc = result.html;  // sandboxed iframe: no scripts, no same-origin access
    } catch (error) {
      subject.textContent = error instanceof ApiError && error.code === "INVALID_SETTINGS"
        ? "Preview needs valid settings: " + Object.entries(error.fields).map(([k, v]) => `${k} ${v}`).join("; ")
        : `Preview unavailable: ${error.message}`;
    }
  }
}

export { get };
