/* Referral share widget: the thank-you block after checkout.
 *   <script src="{APP_URL}/widget.js" data-saleor-api-url="…" data-order-id="…" async></script>
 * Optional: data-locale, data-theme ("light" | "dark" | "auto"), data-target (CSS selector).
 * Renders nothing until our server says the order is paid (it asks with backoff for about
 * two minutes, since payment confirmation lags the page), then draws into a Shadow DOM.
 * Every piece of text goes through textContent; links come from the server and are
 * re-checked to be http(s), mailto: or sms:. The server minifies this file (rjsmin). */
(function () {
  var script = document.currentScript, data = script && script.dataset;
  if (!data || !data.saleorApiUrl || !data.orderId) return;
  var base = script.src.replace(/\/widget\.js([?#].*)?$/, "");
  var order = { saleorApiUrl: data.saleorApiUrl, orderId: data.orderId };
  var query = "saleorApiUrl=" + encodeURIComponent(order.saleorApiUrl) +
    "&orderId=" + encodeURIComponent(order.orderId) +
    (data.locale ? "&locale=" + encodeURIComponent(data.locale) : "");
  var delay = 1500, waited = 0;
  var CHANNELS = ["whatsapp", "telegram", "facebook", "x", "email", "sms"];

  function poll() {
    fetch(base + "/api/widget/state?" + query, { credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : {}; })
      .then(function (state) { state.show ? render(state) : retry(); }, retry);
  }

  function retry() {
    if (waited > 120000) return;
    waited += delay;
    setTimeout(poll, delay);
    delay = Math.min(delay * 1.6, 20000);
  }

  function track(channel) {
    order.channel = channel;
    // text/plain keeps this a "simple" CORS request: no preflight.
    fetch(base + "/api/widget/share", { method: "POST", body: JSON.stringify(order), keepalive: true, credentials: "omit" })
      .catch(function () {});
  }

  function add(parent, tag, text, className) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    if (className) node.className = className;
    return parent.appendChild(node);
  }

  function render(state) {
    var texts = state.texts || {}, share = state.share || {};
    var container = data.target && document.querySelector(data.target);
    var host = document.createElement("div");
    if (container) container.appendChild(host);
    else if (document.body.contains(script)) script.parentNode.insertBefore(host, script);
    else document.body.appendChild(host);
    var root = host.attachShadow({ mode: "open" });
    var css = "__WIDGET_CSS__";
    try {  // a constructed sheet is not "inline style", so a strict style-src CSP allows it
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      add(root, "style", css);
    }
    var theme = data.theme == "auto" ? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "") : data.theme;
    var box = add(root, "section", "", "w " + (theme || ""));
    box.setAttribute("aria-label", texts.title || state.offer);
    box.lang = state.locale || "";
    add(box, "p", texts.greeting, "g");
    add(box, "h2", state.offer);
    add(box, "p", texts.intro);
    if (state.goal) {  // the advocate's way to their next tier or milestone; the text comes finished
      var bar = add(box, "progress");
      bar.max = state.goal[1];
      bar.value = state.goal[0];
      bar.setAttribute("aria-label", state.progress);
      add(box, "p", state.progress, "pr");
    }
    var label = add(box, "label", texts.link_label);
    var field = add(label, "input");
    field.readOnly = true;
    field.value = state.link;
    var buttons = add(box, "div", "", "b");
    var status = add(box, "p", "", "s");
    status.setAttribute("role", "status");

    function button(channel, text, onClick, className) {
      var node = add(buttons, "button", text, className);
      node.type = "button";
      node.onclick = function () { track(channel); onClick(node); };
      return node;
    }

    if (navigator.share) button("native", texts.share, function () {
      navigator.share({ title: texts.title, text: state.shareText, url: share.native }).catch(function () {});
    }, "p");
    CHANNELS.forEach(function (channel) {
      var url = share[channel];
      if (!/^(https?:|mailto:|sms:)/.test(url || "")) return;
      var link = add(buttons, "a", texts[channel]);
      link.href = url;
      if (/^http/.test(url)) { link.target = "_blank"; link.rel = "noopener noreferrer"; }
      link.onclick = function () { track(channel); };
    });
    button("copy", texts.copy, function () {
      var done = function () { status.textContent = texts.copied; };
      var fallback = function () { field.select(); document.execCommand("copy") ? done() : status.textContent = texts.copy_failed; };
      navigator.clipboard ? navigator.clipboard.writeText(share.copy).then(done, fallback) : fallback();
    }, navigator.share ? "" : "p");
    var qr = document.createElement("img");
    qr.hidden = true;
    qr.alt = texts.qr_alt || "";
    qr.width = qr.height = 168;
    button("qr", texts.qr, function (node) {
      qr.src = state.qr;
      qr.hidden = !qr.hidden;
      node.setAttribute("aria-expanded", !qr.hidden);
    }).setAttribute("aria-expanded", false);
    box.appendChild(qr);
  }

  poll();
})();
