// What every page framed by the Dashboard does besides its own work.

// The Dashboard's theme: the server rendered ?theme= into <html data-theme>; then `theme` events.
export function followTheme(bridge) {
  bridge.on("theme", ({ theme }) => { document.documentElement.dataset.theme = theme; });
}

// The content height as the `widgetResize` action of @saleor/app-sdk (Dashboard 3.23.7+ sizes
// `*_DETAILS_WIDGETS` frames by it; older Dashboards ignore the action and keep their fixed height).
export function reportHeight(bridge) {
  let last = 0;
  const report = () => {
    const height = Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight));
    if (height > 0 && height !== last) {
      last = height;
      bridge.dispatch("widgetResize", { height });
    }
  };
  window.addEventListener("load", report);
  new ResizeObserver(report).observe(document.body);
}
