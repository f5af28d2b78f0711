// A small AppBridge: the Saleor Dashboard side of the iframe conversation (PROTOCOL §6).
// Like @saleor/app-sdk, it accepts messages only from the origin of document.referrer
// (the Dashboard that framed us) and keeps the token in memory only: no cookies, no storage.

const params = new URL(window.location.href).searchParams;

function referrerOrigin() {
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch {
    return null;
  }
}

export class Bridge {
  constructor() {
    this.dashboardOrigin = referrerOrigin();
    this.token = null;
    this.saleorApiUrl = params.get("saleorApiUrl") || "";
    this.appId = params.get("id") || "";
    this.theme = params.get("theme") === "dark" ? "dark" : "light";
    this.listeners = { handshake: [], tokenRefresh: [], theme: [] };
    window.addEventListener("message", (event) => this.receive(event));
  }

  on(type, callback) {
    this.listeners[type].push(callback);
  }

  receive(event) {
    if (!this.dashboardOrigin || event.origin !== this.dashboardOrigin) return;
    const data = event.data;
    if (!data || typeof data !== "object" || typeof data.type !== "string") return;
    const payload = data.payload || {};
    if ((data.type === "handshake" || data.type === "tokenRefresh") && typeof payload.token === "string") {
      this.token = payload.token;
      if (!this.saleorApiUrl) this.saleorApiUrl = issuerOf(payload.token);
    } else if (data.type === "theme" && (payload.theme === "dark" || payload.theme === "light")) {
      this.theme = payload.theme;
    } else {
      return;
    }
    for (const callback of this.listeners[data.type] || []) callback(payload);
  }

  dispatch(type, payload = {}) {
    if (!this.dashboardOrigin || window.parent === window) return;
    const actionId = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now() + Math.random());
    window.parent.postMessage({ type, payload: { ...payload, actionId } }, this.dashboardOrigin);
  }

  notifyReady() {
    this.dispatch("notifyReady");
  }

  notify(status, title, text) {
    this.dispatch("notification", { status, title, text });
  }
}

// The token's issuer is the shop's API URL; used only when the iframe URL lacks ?saleorApiUrl.
// The backend never trusts it: it merely picks which shop's keys verify the token.
function issuerOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part)).iss || "";
  } catch {
    return "";
  }
}
