// Building the page from data without ever parsing data as HTML: text goes in with textContent only.

import { ApiError } from "./api.js";
import { t } from "./i18n.js";

/**
 * A new element. options: cls (class names), attrs (attribute -> value; never event handlers or URLs from
 * data), i18n (a label key: the text follows the language), text (any text, shown as text).
 * children: elements or strings (strings become text nodes).
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.cls) node.className = options.cls;
  for (const [name, value] of Object.entries(options.attrs ?? {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  if (options.i18n) {
    node.dataset.i18n = options.i18n;
    node.textContent = t(options.i18n);
  } else if (options.text !== undefined && options.text !== null) {
    node.textContent = String(options.text);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** An ISO time as "YYYY-MM-DD HH:MM" (UTC), the same in every language. */
export function formatTime(value) {
  if (!value) return "—";
  return String(value).replace("T", " ").slice(0, 16);
}

const message = () => document.getElementById("message");

export function clearMessage() {
  message().replaceChildren();
  message().hidden = true;
}

/** Show a label (and optional details) in the message bar. */
export function say(labelKey, details = []) {
  const box = message();
  box.replaceChildren(el("span", { i18n: labelKey }));
  if (details.length) box.append(el("ul", {}, details.map((d) => el("li", { text: d }))));
  box.hidden = false;
}

/** Report a failed call: a 401 signs out (via an event the console listens to); the rest is shown. */
export function report(error) {
  if (!(error instanceof ApiError)) {
    say("error_generic", [String(error && error.message ? error.message : error)]);
    return;
  }
  if (error.status === 401) {
    document.dispatchEvent(new CustomEvent("smematch:unauthorised"));
  } else if (error.status === 0) {
    say("error_network");
  } else if (error.status === 403) {
    say("error_forbidden");
  } else if (error.status === 503) {
    say("error_not_ready");
  } else {
    const body = error.body ?? {};
    const details = (Array.isArray(body.detail) ? body.detail : []).map(
      (item) => (item.field ? `${item.field}: ${item.problem}` : String(item.problem)),
    );
    say("error_generic", [String(body.error ?? error.message), ...details]);
  }
}
