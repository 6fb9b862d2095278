// Finding an enterprise by name (GET /v1/enterprises?q=, typo tolerant), its problems and past outcomes,
// and recommendations for one of its problems.

import { call, segment, withQuery } from "./api.js";
import { clearMessage, el, formatNumber, formatTime, report } from "./dom.js";
import { hasLabel } from "./i18n.js";
import { showCase } from "./cases.js";
import { recommendInto } from "./recommend.js";

const institutionNames = new Map();
let openEnterprise = null;

function sectorLabel(sector) {
  const key = `sector_${sector}`;
  return hasLabel(key) ? el("span", { i18n: key }) : el("span", { text: sector });
}

async function search(q) {
  const status = document.getElementById("search-status");
  const results = document.getElementById("search-results");
  status.replaceChildren(el("span", { i18n: "loading" }));
  results.replaceChildren();
  document.getElementById("enterprise").hidden = true;
  clearMessage();
  try {
    const { data } = await call("GET", withQuery("/v1/enterprises", { q, limit: 10 }));
    if (!data.items.length) {
      status.replaceChildren(el("span", { i18n: "search_none" }), " ", el("q", { text: q }));
      return;
    }
    status.replaceChildren(el("span", { i18n: "search_for" }), " ", el("q", { text: q }));
    for (const item of data.items) {
      const button = el("button", { cls: "result", attrs: { type: "button", "data-enterprise-id": item.enterprise_id } }, [
        el("span", { cls: "name", text: item.name }),
        el("span", { cls: "meta" }, [sectorLabel(item.sector), " · ", el("span", { text: item.region })]),
        el("span", { cls: "match" }, [el("span", { i18n: "match_score" }), " ", formatNumber(item.score, 0)]),
      ]);
      button.addEventListener("click", () => {
        for (const other of results.querySelectorAll("button.result")) other.removeAttribute("aria-current");
        button.setAttribute("aria-current", "true");
        showEnterprise(item.enterprise_id);
      });
      results.append(el("li", {}, [button]));
    }
  } catch (error) {
    status.replaceChildren();
    report(error);
  }
}

function facts(enterprise) {
  const rows = [
    ["field_id", el("code", { text: enterprise.enterprise_id })],
    ["field_sector", sectorLabel(enterprise.sector)],
    ["field_region", el("span", { text: enterprise.region })],
    ["field_employees", el("span", { text: formatNumber(enterprise.employees) })],
    ["field_revenue", el("span", { text: formatNumber(enterprise.annual_revenue) })],
    ["field_founded", el("span", { text: enterprise.founded })],
  ];
  return el("dl", { cls: "facts" }, rows.flatMap(([key, value]) => [el("dt", { i18n: key }), el("dd", {}, [value])]));
}

function problemItem(problem) {
  const box = el("div", { cls: "recs" });
  const caseBox = el("div", { cls: "case", attrs: { "data-case": problem.problem_id } });
  showCase(caseBox, problem.problem_id);
  const button = el("button", { cls: "recommend", attrs: { type: "button" }, i18n: "recommend_button" });
  button.addEventListener("click", async () => {
    button.disabled = true;
    await recommendInto(box, { problem_id: problem.problem_id }, {
      problemId: problem.problem_id,
      onRecorded: () => { loadOutcomes(problem.enterprise_id); showCase(caseBox, problem.problem_id); },
    });
    showCase(caseBox, problem.problem_id);
    button.disabled = false;
  });
  const meta = el("p", { cls: "meta" }, [
    el("code", { text: problem.problem_id }), " · ", el("span", { i18n: "problem_stated" }), ` ${problem.stated_at}`,
  ]);
  if (problem.amount !== null && problem.amount !== undefined) {
    meta.append(" · ", el("span", { i18n: "problem_amount" }), ` ${formatNumber(problem.amount)}`);
  }
  return el("li", { cls: "problem", attrs: { "data-problem-id": problem.problem_id } }, [
    el("p", { cls: "problem-text", text: problem.text }), meta, caseBox, button, box,
  ]);
}

async function institutionName(id) {
  if (!institutionNames.has(id)) {
    institutionNames.set(id, call("GET", `/v1/institutions/${segment(id)}`)
      .then(({ data }) => data.name)
      .catch(() => id));
  }
  return institutionNames.get(id);
}

async function loadOutcomes(enterpriseId) {
  const holder = document.getElementById("enterprise-outcomes");
  if (!holder || openEnterprise !== enterpriseId) return;
  try {
    const { data } = await call("GET", withQuery("/v1/outcomes", { enterprise_id: enterpriseId, limit: 1000 }));
    const items = data.items.slice(-50).reverse();
    if (!items.length) {
      holder.replaceChildren(el("p", { cls: "hint", i18n: "outcomes_none" }));
      return;
    }
    const names = await Promise.all(items.map((item) => institutionName(item.institution_id)));
    const columnLabels = ["col_recorded", "col_problem", "col_institution", "col_status", "col_amount", "col_by"];
    const table = el("table", { cls: "outcomes" }, [
      el("thead", {}, [el("tr", {}, columnLabels.map((key) => el("th", { attrs: { scope: "col" }, i18n: key })))]),
      el("tbody", {}, items.map((item, row) => el("tr", { attrs: { "data-outcome-id": item.outcome_id } }, [
        el("td", { text: formatTime(item.recorded_at) }),
        el("td", {}, [el("code", { text: item.problem_id })]),
        el("td", { text: names[row] }),
        el("td", { cls: `status-${item.status}` }, [el("span", { i18n: `status_${item.status}` })]),
        el("td", { text: item.amount === null ? "—" : formatNumber(item.amount) }),
        el("td", { text: item.recorded_by ?? "—" }),
      ]))),
    ]);
    holder.replaceChildren(table);
  } catch (error) {
    report(error);
  }
}

export async function showEnterprise(enterpriseId) {
  const article = document.getElementById("enterprise");
  article.hidden = false;
  article.replaceChildren(el("p", { cls: "status", i18n: "loading" }));
  clearMessage();
  openEnterprise = enterpriseId;
  try {
    const [{ data: enterprise }, { data: problems }] = await Promise.all([
      call("GET", `/v1/enterprises/${segment(enterpriseId)}`),
      call("GET", withQuery("/v1/problems", { enterprise_id: enterpriseId, limit: 100 })),
    ]);
    const list = problems.items.length
      ? el("ul", { cls: "problems" }, problems.items.map(problemItem))
      : el("p", { cls: "hint", i18n: "problems_none" });
    article.replaceChildren(
      el("h2", { cls: "enterprise-name", text: enterprise.name }),
      facts(enterprise),
      el("h3", { i18n: "problems_heading" }), list,
      el("h3", { i18n: "outcomes_heading" }),
      el("div", { attrs: { id: "enterprise-outcomes" } }, [el("p", { cls: "status", i18n: "loading" })]),
    );
    article.scrollIntoView({ block: "start" });
    await loadOutcomes(enterpriseId);
  } catch (error) {
    article.hidden = true;
    report(error);
  }
}

export function wireEnterprises() {
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = document.getElementById("search-q").value.trim();
    if (q) search(q);
  });
}
