// Labels in English and Simplified Chinese, from labels.json (the file service/web/i18n.py reads too).
// Elements carry the key of their label (data-i18n, data-i18n-label for aria-label) and engine sentences
// their English original (data-reason), so switching language re-translates the page in place.
// translateReason mirrors translate_reason in service/web/i18n.py: keep the two in step.

const LANGUAGE_NAME = "smematch.language";
const PLACEHOLDER = /\{(\d+)([!*]?)\}/g;
const COUNTED = /^(.*): (\d+)$/;

let catalogue = null;
let current = "en";

export async function loadCatalogue() {
  const response = await fetch(new URL("./labels.json", import.meta.url), { credentials: "omit" });
  if (!response.ok) throw new Error(`labels.json: HTTP ${response.status}`);
  catalogue = await response.json();
  current = catalogue.default;
}

export function language() {
  return current;
}

/** The language saved in this browser, else the one the server rendered the page in. */
export function preferredLanguage() {
  const saved = localStorage.getItem(LANGUAGE_NAME);
  if (saved && Object.hasOwn(catalogue.languages, saved)) return saved;
  const served = document.documentElement.lang;
  return Object.hasOwn(catalogue.languages, served) ? served : catalogue.default;
}

/** The label `key` in the current language (`fallback`, else the key, when there is no such label). */
export function t(key, fallback) {
  const texts = Object.hasOwn(catalogue.labels, key) ? catalogue.labels[key] : null;
  if (!texts) return fallback ?? key;
  return texts[current] ?? texts[catalogue.default] ?? fallback ?? key;
}

export function hasLabel(key) {
  return Object.hasOwn(catalogue.labels, key);
}

export function setLanguage(code) {
  current = Object.hasOwn(catalogue.languages, code) ? code : catalogue.default;
  localStorage.setItem(LANGUAGE_NAME, current);
  document.documentElement.lang = current;
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === current));
  }
  translateTree(document);
}

export function translateTree(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-reason]")) node.textContent = translateReason(node.dataset.reason);
}

function word(phrase) {
  const texts = Object.hasOwn(catalogue.words, phrase) ? catalogue.words[phrase] : null;
  return (texts && texts[current]) || phrase;
}

function list(text) {
  const items = text.split(", ").map((item) => {
    const counted = COUNTED.exec(item);
    if (!Object.hasOwn(catalogue.words, item) && counted) return `${word(counted[1])}：${counted[2]}`;
    return word(item);
  });
  return items.join(current.startsWith("zh") ? "、" : ", ");
}

/** An engine reason or escalation sentence (English) in the current language; unknown ones as written. */
export function translateReason(text) {
  if (current === catalogue.default || typeof text !== "string") return text;
  for (const entry of catalogue.reasons) {
    const template = entry[current];
    const match = new RegExp(entry.pattern).exec(text);
    if (!match || !template) continue;
    return template.replace(PLACEHOLDER, (_, group, how) => {
      const value = match[Number(group)] ?? "";
      if (how === "!") return value;
      return how === "*" ? list(value) : word(value);
    });
  }
  return text;
}
