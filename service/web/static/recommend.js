// Recommendations as the API returns them, and recording an outcome in one click.
// Each outcome button holds an id made when the recommendation is shown (crypto.randomUUID); every click on
// it sends that same id, so a double click or a retry is a replay that the server stores once.

import { call } from "./api.js";
import { el, formatNumber, report } from "./dom.js";
import { hasLabel, renderReason } from "./i18n.js";

const STATUSES = (document.body.dataset.statuses || "contacted accepted declined solved failed").split(" ");

/** A version 4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A reason ({code, params, text}), rendered from code and params; kept so a language switch renders it again. */
export function reasonText(tag, reason) {
  const data = reason ? { code: reason.code, params: reason.params } : null;
  return el(tag, { cls: "reason", attrs: { "data-reason": JSON.stringify(data) }, text: renderReason(data) });
}

function needsLine(categories) {
  const found = Object.entries(categories ?? {}).filter(([, c]) => c > 0).sort((a, b) => b[1] - a[1]).slice(0, 4);
  const line = el("p", { cls: "needs" }, [el("span", { i18n: "needs_detected" }), ": "]);
  if (!found.length) line.append(el("span", { i18n: "needs_none" }));
  for (const [category, confidence] of found) {
    const key = `category_${category}`;
    line.append(el("span", { cls: "chip" }, [
      hasLabel(key) ? el("span", { i18n: key }) : el("span", { text: category }),
      ` ${Math.round(confidence * 100)}%`,
    ]));
  }
  return line;
}

async function recordOutcome(button, problemId, institutionId, line, onRecorded) {
  const status = button.dataset.status;
  button.setAttribute("aria-busy", "true");
  line.replaceChildren(el("span", { i18n: "recording" }));
  try {
    const { status: code, data } = await call("POST", "/v1/outcomes", {
      body: { outcome_id: button.dataset.outcomeId, problem_id: problemId, institution_id: institutionId, status },
    });
    button.setAttribute("aria-pressed", "true");
    // A replay of a click made on this page (the second of a double click) is still "recorded", not "again".
    if (code === 201) button.dataset.created = "true";
    line.replaceChildren(
      el("span", { i18n: button.dataset.created ? "recorded" : "recorded_again" }), ": ",
      el("span", { i18n: `status_${data.status}` }),
    );
    line.dataset.outcomeId = data.outcome_id;
    if (onRecorded) onRecorded(data);
  } catch (error) {
    line.replaceChildren();
    report(error);
  } finally {
    button.removeAttribute("aria-busy");
  }
}

function outcomeBar(problemId, institutionId, onRecorded) {
  const line = el("p", { cls: "outcome-status", attrs: { "aria-live": "polite" } });
  const buttons = STATUSES.map((status) => {
    const button = el("button", {
      cls: `outcome status-${status}`,
      attrs: { type: "button", "data-status": status, "data-outcome-id": newId(), "aria-pressed": "false" },
      i18n: `status_${status}`,
    });
    button.addEventListener("click", () => recordOutcome(button, problemId, institutionId, line, onRecorded));
    return button;
  });
  return el("div", { cls: "outcome-bar" }, [
    el("span", { cls: "outcome-label", i18n: "record_outcome" }), el("div", { cls: "buttons" }, buttons), line,
  ]);
}

function institutionCard(item, problemId, onRecorded) {
  const kindKey = `kind_${item.kind}`;
  return el("li", { cls: "institution", attrs: { "data-institution-id": item.institution_id } }, [
    el("div", { cls: "card-head" }, [
      el("span", { cls: "rank", text: `#${item.rank}` }),
      el("h5", { cls: "name", text: item.name }),
      hasLabel(kindKey) ? el("span", { cls: "kind", i18n: kindKey }) : el("span", { cls: "kind", text: item.kind }),
      el("span", { cls: "score" }, [
        el("span", { i18n: "rec_score" }), " ", el("strong", { cls: "value", text: formatNumber(item.score, 3) }),
      ]),
    ]),
    el("div", { cls: "why" }, [
      el("span", { cls: "why-label", i18n: "rec_reasons" }),
      el("ul", { cls: "reasons" }, (item.reasons ?? []).map((reason) => reasonText("li", reason))),
    ]),
    problemId ? outcomeBar(problemId, item.institution_id, onRecorded) : null,
  ]);
}

/**
 * One problem's recommendation (an entry of `results`): needs, escalation notice, ranked institutions with
 * kind, score and reasons, and — for a stored problem — the outcome buttons.
 */
export function renderRecommendation(result, modelVersion, { problemId = null, onRecorded = null } = {}) {
  const box = el("div", { cls: "recommendation", attrs: { "data-recommendation-id": result.recommendation_id } });
  box.append(el("h4", { i18n: "recs_heading" }), needsLine(result.categories));
  if (result.escalate) {
    box.append(el("div", { cls: "escalation", attrs: { role: "note" } }, [
      el("strong", { i18n: "escalate_heading" }),
      el("p", {}, [el("span", { i18n: "escalate_body" }), " ", reasonText("span", result.escalate_reason)]),
    ]));
  }
  const items = result.institutions ?? [];
  if (items.length) {
    box.append(el("ol", { cls: "institutions" }, items.map((item) => institutionCard(item, problemId, onRecorded))));
  } else if (!result.escalate) {
    box.append(el("p", { i18n: "rec_none" }));
  }
  box.append(el("p", { cls: "hint" }, [el("span", { i18n: "rec_model" }), ": ", el("code", { text: modelVersion })]));
  return box;
}

/** Ask for recommendations and render them into `target`; body as POST /v1/recommendations takes it. */
export async function recommendInto(target, body, options = {}) {
  target.replaceChildren(el("p", { cls: "status", i18n: "loading" }));
  try {
    const { data } = await call("POST", "/v1/recommendations", { body: { k: 5, ...body } });
    const [first] = data.results;
    target.replaceChildren(first ? renderRecommendation(first, data.model_version, options)
      : el("p", { i18n: "rec_none" }));
  } catch (error) {
    target.replaceChildren();
    report(error);
  }
}

export function wireAdhoc() {
  const form = document.getElementById("adhoc-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = document.getElementById("adhoc-text").value;
    const sector = document.getElementById("adhoc-sector").value;
    const region = document.getElementById("adhoc-region").value.trim();
    const amount = document.getElementById("adhoc-amount").value;
    const body = { text };
    if (sector) body.sector = sector;
    if (region) body.region = region;
    if (amount !== "") body.amount = Number(amount);
    recommendInto(document.getElementById("adhoc-results"), body);
  });
}
