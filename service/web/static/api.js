// The console's only way to the server: the /v1 API, with the API key in the X-API-Key header.
// The key lives in sessionStorage (this browser tab, until it is closed); it is never put in a URL,
// never written to the console and never sent anywhere but this origin.

const KEY_NAME = "smematch.apiKey";

export function storedKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_NAME);
}

/** A refused or failed call: status 0 when the server could not be reached; body is the API's JSON error. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.error === "string" ? body.error : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** A path with a query string; empty and missing values are left out. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

/** A path segment for an id (ids may hold any printable character). */
export function segment(id) {
  return encodeURIComponent(id);
}

/**
 * Call the API; resolves to {status, data} for a 2xx, throws ApiError otherwise.
 * `key` overrides the stored key (used to check a key before it is remembered).
 */
export async function call(method, path, { body, key } = {}) {
  const headers = { Accept: "application/json", "X-API-Key": key ?? storedKey() ?? "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError(0, null);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return { status: response.status, data };
}
