// The order extension (GET widget on 3.22+, popup on 3.21): the Dashboard gives the order id and
// the theme in the URL, the token over postMessage, and later `theme` events.

import { Bridge } from "./bridge.js";
import { Api } from "./api.js";
import { h, clear } from "./dom.js";
import { followTheme, reportHeight } from "./frame.js";

const bridge = new Bridge();
const api = new Api(bridge);
const status = document.getElementById("widget-status");
const body = document.getElementById("widget-body");
const orderId = new URL(window.location.href).searchParams.get("orderId") || "";
let loaded = false;

followTheme(bridge);
reportHeight(bridge);
bridge.on("handshake", load);
bridge.on("tokenRefresh", load);
if (!bridge.dashboardOrigin) status.textContent = "Open this page from an order in the Saleor Dashboard.";
bridge.notifyReady();

async function load() {
  if (loaded) return;
  if (!orderId) {
    status.textContent = "Saleor did not say which order this is.";
    status.className = "error";
    return;
  }
  loaded = true;
  let data;
  try {
    data = await api.get(`/api/admin/orders/${encodeURIComponent(orderId)}`);
  } catch (error) {
    if (error.status === 404) {
      status.id = "widget-unknown";
      status.textContent = "The referral app has not seen this order. Orders placed before the app was installed are not part of the program.";
      return;
    }
    loaded = error.status !== 401;  // a refreshed token may work
    status.textContent = error.message;
    status.className = "error";
    return;
  }
  status.hidden = true;
  clear(body, render(data));
}

function render(data) {
  const pill = {
    referred: h("span", { class: "pill on" }, "Referred"),
    not_referred: h("span", { class: "pill off" }, "Not referred"),
  }[data.status] || h("span", { class: "pill" }, "Not decided yet");
  const parts = [h("p", {}, pill), h("p", { id: "attribution-note" }, data.note)];
  const r = data.referral;
  if (r) {
    const who = r.advocate.email ? `${r.advocate.name} ${r.advocate.email}` : "(erased)";
    const held = r.hold_until && r.state === "held" ? ` (held until ${r.hold_until.slice(0, 10)})` : "";
    parts.push(h("dl", {},
      h("dt", { class: "muted" }, "Advocate"), h("dd", {}, `${who} · code ${r.advocate.code}`),
      h("dt", { class: "muted" }, "Referral"), h("dd", {}, `${r.state}${held}`)));
    if (r.reasons.length) {
      parts.push(h("p", { class: "muted" }, "Trust rules:"),
        h("ul", { class: "reasons" }, r.reasons.map((x) => h("li", {}, h("strong", {}, x.action), " ", x.reason))));
    }
  }
  if (data.friend_offer) {
    parts.push(h("p", { class: "muted" }, "Friend's welcome code used: ", h("code", {}, data.friend_offer.code),
      ` (${data.friend_offer.value_text})`));
  }
  if (data.rewards.length) {
    parts.push(h("p", { class: "muted" }, "Rewards from this order:"),
      h("table", { id: "rewards" }, h("tbody", {}, data.rewards.map((c) => h("tr", {},
        h("td", {}, c.purpose === "referrer_reward" ? "Advocate" : "Friend"),
        h("td", {}, h("code", {}, c.code)),
        h("td", { class: "num" }, c.value_text),
        h("td", {}, c.state))))));
  }
  if (data.became_advocate) {
    parts.push(h("p", { class: "muted" },
      `This order made the customer an advocate (code ${data.became_advocate.code}); friends referred so far: ${data.became_advocate.friends_referred}.`));
  }
  return parts;
}
