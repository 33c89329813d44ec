/**
 * A tiny HTML builder for the server-rendered pages: `html` is a tagged template that escapes
 * every interpolated value unless it is already {@linkcode Html} (or an array of them).
 */

/** Markup that is safe to insert as is. */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** Escapes `&<>"'` for text and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

function render(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  if (v === null || v === undefined || v === false) return "";
  return escapeHtml(String(v));
}

/** `html\`<td>${value}</td>\``: values escaped, Html and arrays of Html inserted as is. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup from a trusted string (embedded CSS / JS). */
export function raw(text: string): Html {
  return new Html(text);
}

/** 1234567 → "1,234,567" (Go nsqadmin's commafy). */
export function commafy(n: number): string {
  const s = Math.trunc(n).toString();
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Nanoseconds as a short human duration ("1.2ms", "3s"), as nsqadmin's nanotohuman. */
export function nanoToHuman(ns: number): string {
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(1)}s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)}ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)}us`;
  return `${ns}ns`;
}

/** Seconds as "3d 4h", "5h 2m", "4m 10s", "9s". */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A percentile label: 0.99 → "99", 0.999 → "99.9". */
export function percentLabel(q: number): string {
  return String(Math.round(q * 1000) / 10);
}
