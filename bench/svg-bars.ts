/**
 * A horizontal bar chart as plain SVG text: panels of labelled bars, each panel scaled to its
 * own largest value, with a dashed line at the panel's reference (1.00x: what the ratios are of).
 * No dependency and no font metrics: fixed columns wide enough for the bench's labels.
 */

/** What a bar stands for: restpipe, the floor the ratios are taken against, or a rival. */
export type BarKind = 'restpipe' | 'baseline' | 'other';

export interface Bar {
  label: string;
  /** The bar's length, in the panel's unit (a ratio, usually); not finite or below 0: no bar. */
  value: number;
  /** Written right of the bar: `0.91x  5086 req/s`. */
  text: string;
  kind: BarKind;
  /** A little space before this bar, to set off a block of bars (one payload, one direction). */
  gapBefore?: boolean;
}

export interface Panel {
  title: string;
  /** Lines in small print under the title: the unit, where the figures come from. */
  notes: string[];
  bars: Bar[];
  /** Where the dashed line goes, in the bars' unit; none without it. */
  reference?: number;
}

export interface BarChart {
  title: string;
  notes: string[];
  panels: Panel[];
}

const WIDTH = 960;
const MARGIN = 20;
const LABEL_RIGHT = 300;
const BAR_LEFT = 310;
const BAR_SPAN = 450;
const ROW = 22;
const BAR_HEIGHT = 14;
const GAP = 8;
const TITLE_LINE = 22;
const NOTE_LINE = 16;
const PANEL_GAP = 24;
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const COLOURS: Record<BarKind, string> = { restpipe: '#2563eb', baseline: '#6b7280', other: '#f59e0b' };
const LEGEND: Array<[BarKind, string]> = [['restpipe', 'restpipe'], ['baseline', 'the floor (1.00x)'], ['other', 'others']];

/** Characters XML 1.0 does not allow at all: dropped, since no escape would make them legal. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/** `text` safe inside an SVG element or an attribute value. */
export function escapeXml(text: string): string {
  return text
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const px = (n: number): string => String(Math.round(n * 10) / 10);

function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${px(x)}" y="${px(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(content)}</text>`;
}

/** The length a panel's bars are drawn against: its largest value, or its reference if larger. */
function panelMax(panel: Panel): number {
  const values = panel.bars.map((b) => b.value).filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(panel.reference ?? 0, ...values);
  return max > 0 ? max : 1;
}

function barLength(value: number, max: number): number {
  return Number.isFinite(value) && value > 0 ? (value / max) * BAR_SPAN : 0;
}

/** One panel's elements from `top`; returns them and the height they take. */
function renderPanel(panel: Panel, top: number): { parts: string[]; height: number } {
  const parts = [text(MARGIN, top + 16, panel.title, 'font-size="15" font-weight="600" fill="#111827"')];
  let y = top + TITLE_LINE;
  for (const note of panel.notes) {
    parts.push(text(MARGIN, y + 12, note, 'font-size="12" fill="#4b5563"'));
    y += NOTE_LINE;
  }
  y += 6;
  const max = panelMax(panel);
  const barsTop = y;
  const lineAt = parts.length;
  for (const bar of panel.bars) {
    if (bar.gapBefore && y > barsTop) y += GAP;
    const length = barLength(bar.value, max);
    const middle = y + ROW / 2;
    parts.push(
      text(LABEL_RIGHT, middle + 4.5, bar.label, 'font-size="13" text-anchor="end" fill="#111827"'),
      `<rect class="bar" x="${BAR_LEFT}" y="${px(middle - BAR_HEIGHT / 2)}" width="${px(length)}" height="${BAR_HEIGHT}" fill="${COLOURS[bar.kind]}"/>`,
      text(BAR_LEFT + length + 6, middle + 4.5, bar.text, 'font-size="12" fill="#111827" stroke="#ffffff" stroke-width="3" paint-order="stroke"'),
    );
    y += ROW;
  }
  if (panel.reference !== undefined && panel.bars.length > 0) {
    const x = BAR_LEFT + barLength(panel.reference, max);
    // Under the bars and their figures, which it would otherwise cross out.
    parts.splice(lineAt, 0, `<line x1="${px(x)}" y1="${px(barsTop - 2)}" x2="${px(x)}" y2="${px(y + 2)}" stroke="#111827" stroke-width="1" stroke-dasharray="3 3"/>`);
  }
  return { parts, height: y - top };
}

function renderLegend(top: number): string[] {
  let x = MARGIN;
  const parts: string[] = [];
  for (const [kind, label] of LEGEND) {
    parts.push(`<rect x="${x}" y="${top}" width="12" height="12" fill="${COLOURS[kind]}"/>`, text(x + 18, top + 10.5, label, 'font-size="12" fill="#111827"'));
    x += 34 + label.length * 7;
  }
  parts.push(text(x, top + 10.5, '- - - the reference ratio, 1.00x', 'font-size="12" fill="#111827"'));
  return parts;
}

/** The chart as a standalone SVG document. */
export function renderBarChart(chart: BarChart): string {
  const body: string[] = [text(MARGIN, MARGIN + 18, chart.title, 'font-size="20" font-weight="700" fill="#111827"')];
  let y = MARGIN + 28;
  for (const note of chart.notes) {
    body.push(text(MARGIN, y + 12, note, 'font-size="12" fill="#4b5563"'));
    y += NOTE_LINE;
  }
  body.push(...renderLegend(y + 8));
  y += 8 + 12 + PANEL_GAP;
  for (const panel of chart.panels) {
    const { parts, height } = renderPanel(panel, y);
    body.push(...parts);
    y += height + PANEL_GAP;
  }
  const height = Math.ceil(y - PANEL_GAP + MARGIN);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(chart.title)}" ${FONT}>`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
