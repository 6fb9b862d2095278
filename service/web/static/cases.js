// A stored problem as a case: its status and history (GET /v1/problems/{id}) and, for a caseworker, escalating
// it to the provincial working group with a reason (POST /v1/problems/{id}/escalate).

import { call, segment } from "./api.js";
import { el, formatTime, report } from "./dom.js";
import { hasLabel } from "./i18n.js";
import { reasonText } from "./recommend.js";

const ESCALATABLE = new Set(["open", "recommended", "referred", "accepted", "unsolved"]);

function sourceLabel(source) {
  return hasLabel(`source_${source}`) ? el("span", { i18n: `source_${source}` }) : el("span", { text: source });
}

function historyList(events) {
  if (!events.length) return el("p", { cls: "hint", i18n: "history_none" });
  return el("ol", { cls: "history" }, events.map((event) => el("li", { attrs: { "data-status": event.status } }, [
    el("span", { cls: "when", text: formatTime(event.at) }), " ",
    el("strong", { i18n: `case_${event.status}` }), " · ", sourceLabel(event.source),
    event.by ? ` (${event.by})` : "", " · ", reasonText("span", event.reason),
  ])));
}

function escalateForm(problemId, box) {
  const id = `escalate-${problemId}`;
  const text = el("textarea", { attrs: { id, rows: "2", maxlength: "5000", required: "" } });
  const form = el("form", { cls: "escalate stack", attrs: { hidden: "" } }, [
    el("label", { attrs: { for: id }, i18n: "escalate_reason_label" }), text,
    el("button", { attrs: { type: "submit" }, i18n: "escalate_submit" }),
  ]);
  const open = el("button", { cls: "escalate-open", attrs: { type: "button" }, i18n: "escalate_button" });
  open.addEventListener("click", () => { form.hidden = false; text.focus(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const { data } = await call("POST", `/v1/problems/${segment(problemId)}/escalate`, { body: { reason: text.value } });
      await showCase(box, problemId);
      box.prepend(el("p", { cls: "notice", i18n: data.escalated ? "escalated_now" : "escalated_already" }));
    } catch (error) {
      report(error);
    }
  });
  return [open, form];
}

/** Render the case of `problemId` into `box`: status, history, and the escalation form when it may be used. */
export async function showCase(box, problemId) {
  try {
    const { data } = await call("GET", `/v1/problems/${segment(problemId)}`);
    box.dataset.status = data.status;
    box.replaceChildren(
      el("p", { cls: "case-status" }, [el("span", { i18n: "case_status" }), ": ",
        el("strong", { cls: `case-badge case-${data.status}`, i18n: `case_${data.status}` })]),
      el("details", { cls: "case-history" }, [el("summary", { i18n: "history_heading" }), historyList(data.history)]),
      ...(ESCALATABLE.has(data.status) ? escalateForm(problemId, box) : []),
    );
  } catch (error) {
    report(error);
  }
}
