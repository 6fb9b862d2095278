// The caseworkers' overview (GET /v1/cases/overview): problems by status as a bar chart (SVG, no library),
// and by sector, district, institution kind referred to and days open as tables of status counts.

import { call } from "./api.js";
import { el, formatNumber, report } from "./dom.js";
import { hasLabel } from "./i18n.js";

const NS = "http://www.w3.org/2000/svg";
const STATUSES = ["open", "recommended", "referred", "accepted", "solved", "unsolved", "escalated",
  "resolved_by_province", "closed"];

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function statusLabel(status) {
  return el("span", { i18n: `case_${status}` });
}

/** One horizontal bar per status, its label beside it and its count at its end. */
function statusChart(counts) {
  const rows = STATUSES.map((status) => [status, counts[status] ?? 0]);
  const top = Math.max(1, ...rows.map(([, n]) => n));
  const width = 420;
  return el("ol", { cls: "chart status-bars", attrs: { "aria-label": "problems by status" } }, rows.map(([status, n], i) => {
    const length = Math.max(1, (n / top) * (width - 70));
    const chart = svg("svg", { viewBox: `0 0 ${width} 18`, width, height: 18, class: "bars", "aria-hidden": "true" });
    chart.append(svg("rect", { x: 0, y: 0, width: length, height: 18, class: `bar s${i % 4}`, "data-status": status,
      "data-value": n }));
    chart.append(svg("text", { x: length + 6, y: 13, class: "axis" }, n));
    return el("li", { cls: "bar-row" }, [statusLabel(status), chart]);
  }));
}

function groupTable(groups, labelOf, { ordered = false } = {}) {
  const keys = ordered ? Object.keys(groups) : Object.keys(groups).sort();
  if (!keys.length) return el("p", { cls: "hint", text: "—" });
  const used = STATUSES.filter((status) => keys.some((key) => groups[key][status]));
  return el("table", { cls: "overview" }, [
    el("thead", {}, [el("tr", {}, [el("th", { text: "" }), ...used.map((s) => el("th", { attrs: { scope: "col" } }, [statusLabel(s)]))])]),
    el("tbody", {}, keys.map((key) => el("tr", { attrs: { "data-key": key } }, [
      el("th", { attrs: { scope: "row" } }, [labelOf(key)]),
      ...used.map((s) => el("td", { text: formatNumber(groups[key][s] ?? 0) })),
    ]))),
  ]);
}

function vocabularyLabel(prefix) {
  return (key) => (hasLabel(`${prefix}${key}`) ? el("span", { i18n: `${prefix}${key}` }) : el("span", { text: key }));
}

export async function loadOverview() {
  const holder = document.getElementById("overview-body");
  holder.replaceChildren(el("p", { cls: "status", i18n: "loading" }));
  try {
    const { data } = await call("GET", "/v1/cases/overview");
    holder.replaceChildren(
      el("p", {}, [el("span", { i18n: "overview_total" }), ": ", el("strong", { cls: "total", text: formatNumber(data.total) })]),
      el("h3", { i18n: "overview_by_status" }), statusChart(data.by_status),
      el("h3", { i18n: "overview_by_sector" }), groupTable(data.by_sector, vocabularyLabel("sector_")),
      el("h3", { i18n: "overview_by_district" }), groupTable(data.by_district, (key) => el("span", { text: key })),
      el("h3", { i18n: "overview_by_kind" }), groupTable(data.by_institution_kind, vocabularyLabel("kind_")),
      el("h3", { i18n: "overview_by_age" }), groupTable(data.by_days_open, (key) => el("span", { text: key }), { ordered: true }),
    );
  } catch (error) {
    holder.replaceChildren();
    report(error);
  }
}
