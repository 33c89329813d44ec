/**
 * Small inline SVG charts of the history nsqadmin samples (beyond Go nsqadmin): a sparkline for
 * table cells and a labelled area chart for the topic and channel pages. Pure functions of the
 * points; no script needed to draw them.
 */
import { type Html, html } from "./html.ts";

/** A point of a chart: time in ms, value. */
export interface ChartPoint {
  t: number;
  v: number;
}

function scale(points: readonly ChartPoint[], w: number, h: number, pad: number) {
  const t0 = points[0].t;
  const t1 = points[points.length - 1].t;
  const max = Math.max(...points.map((p) => p.v), 0);
  const x = (t: number) => t1 === t0 ? w - pad : pad + (t - t0) / (t1 - t0) * (w - 2 * pad);
  const y = (v: number) => max === 0 ? h - pad : h - pad - v / max * (h - 2 * pad);
  return { x, y, max };
}

function pathOf(points: readonly ChartPoint[], x: (t: number) => number, y: (v: number) => number) {
  return points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`)
    .join(" ");
}

/** A 100×22 sparkline (empty placeholder with fewer than two points). */
export function sparkline(points: readonly ChartPoint[], label: string): Html {
  const w = 100, h = 22;
  if (points.length < 2) {
    return html`
      <svg class="spark empty" width="${w}" height="${h}" role="img"
        aria-label="${label}: collecting">
        <line x1="0" y1="${h - 2}" x2="${w}" y2="${h - 2}" />
      </svg>
    `;
  }
  const { x, y } = scale(points, w, h, 2);
  const line = pathOf(points, x, y);
  const area = `${line} L${x(points[points.length - 1].t).toFixed(1)},${h} L${
    x(points[0].t).toFixed(1)
  },${h} Z`;
  return html`
    <svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"
      role="img" aria-label="${label}">
      <path class="area" d="${area}" />
      <path class="line" d="${line}" />
    </svg>
  `;
}

function fmt(v: number): string {
  if (Number.isInteger(v) && v < 1e4) return String(v);
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/\.?0+$/, "") || "0";
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 16);
}

/** A 320×90 chart with a title, the latest value, the max and the time span. */
export function chart(points: readonly ChartPoint[], title: string, unit: string): Html {
  const w = 320, h = 90;
  const last = points.length === 0 ? undefined : points[points.length - 1].v;
  const head = html`<div class="chart-head"><span>${title}</span><b>${
    last === undefined ? "–" : fmt(last)
  }<small>${unit}</small></b></div>`;
  if (points.length < 2) {
    return html`
      <figure class="chart"
        data-chart="${title}">${head}<div class="chart-empty" style="height:${h}px">collecting samples…</div></figure>
    `;
  }
  const { x, y, max } = scale(points, w, h, 4);
  const line = pathOf(points, x, y);
  const area = `${line} L${x(points[points.length - 1].t).toFixed(1)},${h} L${
    x(points[0].t).toFixed(1)
  },${h} Z`;
  return html`
    <figure class="chart"
      data-chart="${title}">${head}<svg width="100%" height="${h}" viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" role="img" aria-label="${title}"><line class="grid" x1="0" y1="4" x2="${w}" y2="4"/><line class="grid" x1="0" y1="${h /
        2}" x2="${w}" y2="${h /
        2}"/><path class="area" d="${area}"/><path class="line" d="${line}" vector-effect="non-scaling-stroke"/></svg><div class="chart-foot"><span>${clock(
          points[0].t,
        )}</span><span>max ${fmt(max)}</span><span>${clock(
          points[points.length - 1].t,
        )} UTC</span></div></figure>
  `;
}
