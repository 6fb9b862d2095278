// The analyst view: the model being served (GET /v1/model) with its key metrics beside the baselines, the
// recent training runs side by side (GET /v1/model/runs), the MLflow UI link, and — for admins — reload.

import { call } from "./api.js";
import { el, formatNumber, formatTime, report } from "./dom.js";
import { runsChart } from "./chart.js";

// Metric-name suffixes of the baselines (training.evaluate.SUFFIXES) and their label keys.
const SERIES = [
  { key: "model", suffix: "", label: "series_model" },
  { key: "text_baseline", suffix: "_text_baseline", label: "series_text_baseline" },
  { key: "popularity", suffix: "_popularity", label: "series_popularity" },
  { key: "cold_start", suffix: "_cold_start", label: "series_cold_start" },
  { key: "oracle", suffix: "_oracle", label: "series_oracle" },
];
const SOURCE_LABELS = { mlflow: "runs_source_mlflow", bundles: "runs_source_bundles" };
const PREFERRED = ["ndcg_at_5", "ndcg_at_10", "map_at_5", "mrr", "recall_at_10", "gt_ndcg_at_5", "gt_ndcg_at_10",
  "coverage_at_10", "kind_diversity_at_5"];

/** metric name -> {series key -> value}, for metrics that have the model's value and a baseline's. */
function byMetric(metrics) {
  const rows = new Map();
  for (const [name, value] of Object.entries(metrics ?? {})) {
    if (name.includes("/") || typeof value !== "number") continue;
    const series = SERIES.find((s) => s.suffix && name.endsWith(s.suffix)) ?? SERIES[0];
    const base = series.suffix ? name.slice(0, -series.suffix.length) : name;
    if (!rows.has(base)) rows.set(base, {});
    rows.get(base)[series.key] = value;
  }
  const compared = [...rows].filter(([, v]) => "model" in v && Object.keys(v).length > 1);
  const rank = (name) => (PREFERRED.includes(name) ? PREFERRED.indexOf(name) : PREFERRED.length);
  return compared.sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

export function metricName(name) {
  const truth = name.startsWith("gt_");
  const bare = (truth ? name.slice(3) : name).replace(/_at_(\d+)$/, "@$1").replace(/_/g, " ");
  return (truth ? "GT " : "") + bare.replace(/^(ndcg|map|mrr)/, (m) => m.toUpperCase());
}

function metricsTable(metrics) {
  const rows = byMetric(metrics);
  if (!rows.length) return el("p", { cls: "hint", i18n: "metrics_none" });
  const used = SERIES.filter((s) => rows.some(([, v]) => s.key in v));
  return el("table", { cls: "metrics" }, [
    el("thead", {}, [el("tr", {}, [
      el("th", { attrs: { scope: "col" }, i18n: "col_metric" }),
      ...used.map((s) => el("th", { attrs: { scope: "col" }, i18n: s.label })),
    ])]),
    el("tbody", {}, rows.map(([name, values]) => el("tr", { attrs: { "data-metric": name } }, [
      el("th", { attrs: { scope: "row" }, text: metricName(name) }),
      ...used.map((s) => el("td", {
        cls: s.key === "model" && values.text_baseline !== undefined && values.model > values.text_baseline
          ? "better" : "",
        text: s.key in values ? formatNumber(values[s.key], 3) : "—",
      })),
    ]))),
  ]);
}

function facts(model) {
  const rows = [
    ["model_version", el("code", { text: model.version })],
    ["model_ranker", el("span", { text: model.ranker })],
    ["model_trained", el("span", { text: formatTime(model.trained_at) })],
    ["model_loaded", el("span", { text: formatTime(model.loaded_at) })],
    ["model_institutions", el("span", { text: formatNumber(model.institutions) })],
    ["model_digest", el("code", { text: model.data_digest ? String(model.data_digest).slice(0, 16) : "—" })],
  ];
  return rows.flatMap(([key, value]) => [el("dt", { i18n: key }), el("dd", {}, [value])]);
}

function showRuns(report) {
  const chart = document.getElementById("runs-chart");
  const source = document.getElementById("runs-source");
  const link = document.getElementById("mlflow-link");
  const url = report.mlflow_ui_url;
  link.hidden = !(url && /^https?:\/\//i.test(url));
  if (!link.hidden) link.href = url;
  const runs = [...report.runs].reverse();
  if (!runs.length) {
    source.replaceChildren();
    chart.replaceChildren(el("p", { cls: "hint", i18n: "runs_none" }));
    return;
  }
  source.replaceChildren(el("span", { i18n: SOURCE_LABELS[report.source] ?? "runs_source_bundles" }));
  const names = new Set(runs.flatMap((run) => Object.keys(run.metrics)));
  const metric = PREFERRED.find((m) => names.has(m)) ?? [...names].find((m) => !m.includes("/")) ?? "ndcg_at_5";
  const series = SERIES.filter((s) => names.has(`${metric}${s.suffix}`));
  chart.replaceChildren(runsChart(runs, series, metric));
}

export async function loadModel() {
  const factsBox = document.getElementById("model-facts");
  const metricsBox = document.getElementById("model-metrics");
  factsBox.replaceChildren(el("dd", { i18n: "loading" }));
  const [model, runs] = await Promise.allSettled([call("GET", "/v1/model"), call("GET", "/v1/model/runs")]);
  if (model.status === "fulfilled") {
    factsBox.replaceChildren(...facts(model.value.data));
    metricsBox.replaceChildren(metricsTable(model.value.data.metrics));
  } else {
    factsBox.replaceChildren();
    report(model.reason);
  }
  if (runs.status === "fulfilled") showRuns(runs.value.data);
  else report(runs.reason);
}

export function wireModel() {
  const button = document.getElementById("reload-model");
  const status = document.getElementById("reload-status");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.replaceChildren(el("span", { i18n: "loading" }));
    try {
      const { data } = await call("POST", "/v1/admin/model/reload");
      status.replaceChildren(el("span", { i18n: "reload_done" }), " ", el("code", { text: data.model.version }));
      await loadModel();
    } catch (error) {
      status.replaceChildren();
      report(error);
    } finally {
      button.disabled = false;
    }
  });
}
