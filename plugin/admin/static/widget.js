// Tell the Dashboard how tall the order widget is (message of @saleor/app-sdk's widget-resize).
function reportHeight() {
  if (window.parent === window) return;
  const height = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
  if (height > 0) window.parent.postMessage({ type: "saleor:widget:resize", height }, "*");
}
window.addEventListener("load", reportHeight);
new ResizeObserver(reportHeight).observe(document.body);
