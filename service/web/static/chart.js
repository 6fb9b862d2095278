// A grouped bar chart in SVG (no library): one group per training run, one bar per series (the model and
// its baselines), plus the same numbers as a table. SVG elements are made with createElementNS and only
// presentation attributes, which the page's Content-Security-Policy allows.

import { el, formatNumber } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function runLabel(run) {
  const name = run.version || run.run_id || "?";
  return name.length > 14 ? `${name.slice(0, 13)}…` : name;
}

/**
 * runs: oldest first, each {version, run_id, started, metrics}; series: [{key, suffix, label}] where
 * label is a label key; metric: the base metric name, e.g. "ndcg_at_5".
 */
export function runsChart(runs, series, metric) {
  const value = (run, s) => run.metrics[`${metric}${s.suffix}`];
  const values = runs.flatMap((run) => series.map((s) => value(run, s))).filter((v) => typeof v === "number");
  const top = Math.max(1, ...values);
  const bar = 14;
  const group = series.length * bar + 18;
  const left = 44;
  const plot = { top: 12, height: 180 };
  const width = Math.max(360, left + runs.length * group + 12);
  const height = plot.top + plot.height + 40;
  const y = (v) => plot.top + plot.height - (v / top) * plot.height;

  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "bars",
    "aria-label": `${metric}: ${runs.length} runs`,
  });
  for (let i = 0; i <= 4; i += 1) {
    const v = (top * i) / 4;
    chart.append(svg("line", { x1: left, x2: width - 4, y1: y(v), y2: y(v), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, v.toFixed(2)));
  }
  runs.forEach((run, r) => {
    const x0 = left + 10 + r * group;
    series.forEach((s, i) => {
      const v = value(run, s);
      if (typeof v !== "number") return;
      chart.append(svg("rect", {
        x: x0 + i * bar, y: y(v), width: bar - 2, height: Math.max(0, y(0) - y(v)), class: `bar s${i}`,
        "data-run": run.run_id ?? "", "data-series": s.key, "data-value": v,
      }));
    });
    chart.append(svg("text", {
      x: x0 + (series.length * bar) / 2, y: plot.top + plot.height + 16, "text-anchor": "middle", class: "axis",
    }, runLabel(run)));
  });

  const legend = el("ul", { cls: "legend" }, series.map((s, i) => el("li", {}, [
    el("span", { cls: `swatch s${i}`, attrs: { "aria-hidden": "true" } }), el("span", { i18n: s.label }),
  ])));
  const table = el("table", { cls: "runs" }, [
    el("thead", {}, [el("tr", {}, [
      el("th", { attrs: { scope: "col" }, i18n: "col_run" }),
      ...series.map((s) => el("th", { attrs: { scope: "col" }, i18n: s.label })),
    ])]),
    el("tbody", {}, runs.map((run) => el("tr", { attrs: { "data-run": run.run_id ?? "" } }, [
      el("th", { attrs: { scope: "row" }, text: `${run.version}${run.aliases ? ` (${run.aliases})` : ""}` }),
      ...series.map((s) => el("td", { text: typeof value(run, s) === "number" ? formatNumber(value(run, s), 3) : "—" })),
    ]))),
  ]);
  const figure = el("figure", { cls: "runs-chart" }, [
    el("figcaption", {}, [el("span", { i18n: "runs_chart_caption" }), " ", el("code", { text: metric })]),
  ]);
  figure.append(chart, legend, table);
  return figure;
}
