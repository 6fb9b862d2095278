// Labels in English and Simplified Chinese, from labels.json (the file service/web/i18n.py reads too).
// Elements carry the key of their label (data-i18n, data-i18n-label for aria-label) and reasons their code
// and parameters (data-reason, JSON), so switching language re-renders the page in place.
// renderReason renders as matching/explain/reasons.py `render` does, from the same templates.

const LANGUAGE_NAME = "smematch.language";
const PLACEHOLDER = /\{(\w+)(?::(\w+)(\*?))?\}/g;

let catalogue = null;
let reasons = null;
let current = "en";

export async function loadCatalogue() {
  const [labels, templates] = await Promise.all([
    fetch(new URL("./labels.json", import.meta.url), { credentials: "omit" }),
    fetch("/console/reasons.json", { credentials: "omit" }),
  ]);
  if (!labels.ok) throw new Error(`labels.json: HTTP ${labels.status}`);
  if (!templates.ok) throw new Error(`reasons.json: HTTP ${templates.status}`);
  catalogue = await labels.json();
  reasons = await templates.json();
  current = catalogue.default;
}

export function language() {
  return current;
}

/** The language the address asks for (?lang=), else the one saved in this browser, else the page's. */
export function preferredLanguage() {
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (asked) return document.documentElement.lang;  // the server chose it from ?lang= already
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
  for (const node of root.querySelectorAll("[data-reason]")) node.textContent = renderReason(JSON.parse(node.dataset.reason));
}

function reasonLanguage() {
  return current.startsWith("zh") ? "zh" : "en";
}

function vocabularyWord(vocabulary, code, lang) {
  const words = reasons.vocabulary[vocabulary] ?? {};
  return Object.hasOwn(words, String(code)) ? words[String(code)][lang] : String(code);
}

function formatted(value, how, star, lang) {
  if (!how) return value === null || value === undefined ? "" : String(value);
  if (how === "percent") return `${Math.round(Number(value) * 100)}%`;
  if (how === "money") return Math.round(Number(value)).toLocaleString("en-US");
  if (how === "count") return String(Math.round(Number(value)));
  if (how === "score") return Number(value).toFixed(2);
  const separator = reasons.separator[lang];
  if (how === "list") return (value ?? []).map(String).join(separator);
  if (how === "rule_counts") {
    const items = Object.entries(value ?? {}).map(([rule, n]) => `${vocabularyWord("rule", rule, lang)}${reasons.colon[lang]}${n}`);
    return items.length ? items.join(separator) : reasons.none[lang];
  }
  if (star) return (value ?? []).map((code) => vocabularyWord(how, code, lang)).join(separator);
  return vocabularyWord(how, value, lang);
}

/**
 * A reason ({code, params}) as text in the current language, with the templates of matching/explain/reasons.py
 * (served as /console/reasons.json): the same rendering as the Python `render`. Unknown codes show their text.
 */
export function renderReason(reason) {
  if (!reason) return "";
  const params = reason.params ?? {};
  const templates = reasons && Object.hasOwn(reasons.templates, reason.code) ? reasons.templates[reason.code] : null;
  if (!templates) return String(params.text ?? reason.text ?? reason.code ?? "");
  const lang = reasonLanguage();
  return templates[lang].replace(PLACEHOLDER, (_, name, how, star) => formatted(params[name], how, star, lang));
}
