// Calls to our admin API with the Dashboard token (headers as @saleor/app-sdk's createAuthenticatedFetch).

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `Request failed (${status})`);
    this.status = status;
    this.code = error.code || "HTTP_" + status;
    this.fields = error.fields || {};
  }
}

export class Api {
  constructor(bridge) {
    this.bridge = bridge;
  }

  headers(extra = {}) {
    return {
      "authorization-bearer": this.bridge.token || "",
      "saleor-api-url": this.bridge.saleorApiUrl || "",
      ...extra,
    };
  }

  async request(method, path, body) {
    const init = { method, headers: this.headers(), credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    if ((response.headers.get("content-type") || "").includes("application/json")) {
      data = await response.json();
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path, query) {
    return this.request("GET", withQuery(path, query));
  }

  put(path, body) {
    return this.request("PUT", path, body);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  patch(path, body) {
    return this.request("PATCH", path, body);
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  async download(path, query, fallbackName) {
    const response = await fetch(withQuery(path, query), { headers: this.headers(), credentials: "omit" });
    if (!response.ok) {
      let data = null;
      try { data = await response.json(); } catch { /* not JSON */ }
      throw new ApiError(response.status, data);
    }
    const blob = await response.blob();
    const match = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = match ? match[1] : fallbackName;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}

function withQuery(path, query) {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}
