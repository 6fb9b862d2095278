// The provincial queue (GET /v1/escalations): escalated problems with their enterprise, sector, district, days
// open, who escalated and why, the engine's reason and the referrals tried; filters, "more" pages by
// next_offset, CSV and Excel downloads. The provincial role records a resolution on each entry.

import { call, storedKey, withQuery } from "./api.js";
import { el, formatTime, report } from "./dom.js";
import { hasLabel, language } from "./i18n.js";
import { reasonText } from "./recommend.js";

const byId = (id) => document.getElementById(id);
let role = null;
let nextOffset = null;

function filters() {
  return { sector: byId("queue-sector").value, region: byId("queue-region").value.trim() };
}

function labelled(prefix, value) {
  const key = `${prefix}${value}`;
  return hasLabel(key) ? el("span", { i18n: key }) : el("span", { text: value });
}

function sectorLabel(sector) {
  return hasLabel(`sector_${sector}`) ? el("span", { i18n: `sector_${sector}` }) : el("span", { text: sector });
}

function sourceLabel(source) {
  return hasLabel(`source_${source}`) ? el("span", { i18n: `source_${source}` }) : el("span", { text: source });
}

function referrals(entry) {
  if (!entry.referrals.length) return el("span", { i18n: "queue_referrals_none" });
  return el("ul", { cls: "referrals" }, entry.referrals.map((r) => el("li", {}, [
    el("span", { text: r.name }), " · ", labelled("kind_", r.kind), " · ",
    el("span", { cls: `status-${r.status}` }, [el("span", { i18n: `status_${r.status}` })]),
    ` ${formatTime(r.recorded_at).slice(0, 10)}`,
  ])));
}

function resolutionForm(entry, card) {
  const text = el("textarea", { attrs: { rows: "2", maxlength: "5000", required: "", name: "resolution",
    id: `resolution-${entry.problem_id}` } });
  const choice = el("select", { attrs: { name: "status" } }, [
    el("option", { attrs: { value: "resolved_by_province" }, i18n: "resolution_resolved" }),
    el("option", { attrs: { value: "closed" }, i18n: "resolution_closed" }),
  ]);
  const form = el("form", { cls: "resolution stack" }, [
    el("label", { attrs: { for: `resolution-${entry.problem_id}` }, i18n: "resolution_label" }), text, choice,
    el("button", { attrs: { type: "submit" }, i18n: "resolution_submit" }),
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { data } = await call("POST", `/v1/escalations/${encodeURIComponent(entry.problem_id)}/resolution`, {
        body: { resolution: text.value, status: choice.value },
      });
      form.replaceWith(el("p", { cls: "resolved", attrs: { "data-status": data.status } }, [
        el("span", { i18n: "resolution_recorded" }), ": ", el("span", { i18n: `case_${data.status}` }),
      ]));
      card.dataset.status = data.status;
    } catch (error) {
      report(error);
    }
  });
  return form;
}

function entryCard(entry) {
  const card = el("li", { cls: "queue-entry panel", attrs: { "data-problem-id": entry.problem_id } });
  const facts = [
    ["queue_enterprise", el("span", { text: entry.enterprise_name })],
    ["field_sector", sectorLabel(entry.sector)],
    ["queue_filter_region", el("span", { text: entry.district })],
    ["queue_days_open", el("span", { cls: "days-open", text: entry.days_open })],
    ["queue_escalated_by", sourceLabel(entry.escalated_by)],
    ["queue_reason", reasonText("span", entry.reason)],
    ["queue_engine_reason", entry.engine_reason ? reasonText("span", entry.engine_reason) : el("span", { text: "—" })],
    ["queue_referrals", referrals(entry)],
  ];
  card.append(
    el("p", { cls: "problem-text", text: entry.text }),
    el("p", { cls: "meta" }, [el("code", { text: entry.problem_id }), ` · ${formatTime(entry.escalated_at)}`]),
    el("dl", { cls: "facts" }, facts.flatMap(([key, value]) => [el("dt", { i18n: key }), el("dd", {}, [value])])),
  );
  if (role === "provincial") card.append(resolutionForm(entry, card));
  return card;
}

async function fetchPage(offset) {
  try {
    const { data } = await call("GET", withQuery("/v1/escalations", { ...filters(), limit: 20, offset }));
    const list = byId("queue-list");
    if (offset === 0) list.replaceChildren();
    list.append(...data.items.map(entryCard));
    nextOffset = data.next_offset;
    byId("queue-more").hidden = nextOffset === null;
    byId("queue-empty").hidden = list.children.length > 0;
  } catch (error) {
    report(error);
  }
}

/** Show the queue's first page for a caller of `role` (only the provincial role gets resolution forms). */
export function loadQueue(options) {
  role = options.role;
  return fetchPage(0);
}

async function download(format) {
  const path = withQuery("/v1/exports/escalations", { ...filters(), format, lang: language() });
  try {
    const response = await fetch(path, { headers: { "X-API-Key": storedKey() ?? "" }, credentials: "omit" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const link = el("a", { attrs: { href: URL.createObjectURL(await response.blob()),
      download: `escalations.${format}` } });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (error) {
    report(error);
  }
}

export function wireQueue(currentCaller) {
  byId("queue-form").addEventListener("submit", (event) => {
    event.preventDefault();
    role = currentCaller()?.role ?? role;
    fetchPage(0);
  });
  byId("queue-more").addEventListener("click", () => { if (nextOffset !== null) fetchPage(nextOffset); });
  byId("queue-csv").addEventListener("click", () => download("csv"));
  byId("queue-xlsx").addEventListener("click", () => download("xlsx"));
}
