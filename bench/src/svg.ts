/** Hand-written SVG charts (no browser, no dependencies). */
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  if (max <= min) max = min * 10;
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

export interface BarSeries {
  readonly name: string;
  /** One value per group (NaN = missing); lo/hi draw a whisker (e.g. p25–p75). */
  readonly values: readonly { v: number; lo?: number; hi?: number }[];
}

/** Grouped bar chart on a log10 y axis. */
export function groupedBarChart(title: string, groups: readonly string[], series: readonly BarSeries[], yLabel: string): string {
  const W = Math.max(640, 80 + groups.length * (series.length * 14 + 16));
  const H = 420;
  const m = { l: 70, r: 20, t: 40, b: 120 };
  const all = series.flatMap((s) => s.values.flatMap((x) => [x.v, x.lo ?? x.v, x.hi ?? x.v])).filter((v) => Number.isFinite(v) && v > 0);
  const ticks = all.length > 0 ? logTicks(Math.min(...all), Math.max(...all)) : [1, 10];
  const lo = Math.log10(ticks[0]!);
  const hi = Math.log10(ticks[ticks.length - 1]!);
  const ph = H - m.t - m.b;
  const y = (v: number) => m.t + ph - ((Math.log10(Math.max(v, ticks[0]!)) - lo) / (hi - lo || 1)) * ph;
  const gw = (W - m.l - m.r) / Math.max(groups.length, 1);
  const bw = Math.min(14, (gw - 8) / Math.max(series.length, 1));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${ty}" y2="${ty}" stroke="#ddd"/><text x="${m.l - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  groups.forEach((g, gi) => {
    const gx = m.l + gi * gw + (gw - bw * series.length) / 2;
    series.forEach((s, si) => {
      const d = s.values[gi];
      if (!d || !Number.isFinite(d.v) || d.v <= 0) return;
      const x = gx + si * bw;
      const top = y(d.v);
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(m.t + ph - top).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${s.name} ${g}: ${fmt(d.v)}`)}</title></rect>`);
      if (d.lo !== undefined && d.hi !== undefined && Number.isFinite(d.lo) && Number.isFinite(d.hi)) {
        const cx = (x + (bw - 1) / 2).toFixed(1);
        parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(d.hi).toFixed(1)}" y2="${y(d.lo).toFixed(1)}" stroke="#222"/>`);
      }
    });
    const lx = m.l + gi * gw + gw / 2;
    parts.push(`<text transform="translate(${lx.toFixed(1)} ${m.t + ph + 8}) rotate(-50)" text-anchor="end">${esc(g)}</text>`);
  });
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`);
  series.forEach((s, si) => {
    const lx = m.l + si * 190;
    parts.push(`<rect x="${lx}" y="${H - 18}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/><text x="${lx + 14}" y="${H - 9}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface LineSeries {
  readonly name: string;
  readonly dashed?: boolean;
  readonly points: readonly { x: number; y: number }[];
}

/** Line chart with log10 x and y axes. */
export function logLineChart(title: string, series: readonly LineSeries[], xLabel: string, yLabel: string, xFmt: (v: number) => string): string {
  const W = 640;
  const H = 420;
  const m = { l: 70, r: 20, t: 40, b: 90 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((v) => v > 0);
  const xt = xs.length > 0 ? logTicks(Math.min(...xs), Math.max(...xs)) : [1, 10];
  const yt = ys.length > 0 ? logTicks(Math.min(...ys), Math.max(...ys)) : [1, 10];
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const sx = (v: number) => m.l + ((Math.log10(Math.max(v, xt[0]!)) - Math.log10(xt[0]!)) / (Math.log10(xt[xt.length - 1]!) - Math.log10(xt[0]!) || 1)) * pw;
  const sy = (v: number) => m.t + ph - ((Math.log10(Math.max(v, yt[0]!)) - Math.log10(yt[0]!)) / (Math.log10(yt[yt.length - 1]!) - Math.log10(yt[0]!) || 1)) * ph;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (const t of yt) parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#ddd"/><text x="${m.l - 6}" y="${sy(t).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  for (const t of xt) parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/><text x="${sx(t).toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${esc(xFmt(t))}</text>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, si) => {
    const c = PALETTE[si % PALETTE.length];
    const pts = [...s.points].sort((a, b) => a.x - b.x).filter((p) => p.x > 0 && p.y > 0);
    if (pts.length > 0) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''} points="${pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${s.name}: ${fmt(p.y)}`)}</title></circle>`);
    const lx = m.l + (si % 3) * 190;
    const ly = H - 36 + Math.floor(si / 3) * 14;
    parts.push(`<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/><text x="${lx + 20}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#333"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>`);
  parts.push('</svg>');
  return parts.join('\n');
}
