// A benchmark's figures as a picture: line charts side by side, drawn as SVG in plain
// TypeScript (no plotting dependency), and rendered to PNG by the headless Chromium the
// test environment already uses (@gorten/testenv `screenshot`), so bench/README.md can
// show it. The x axis is logarithmic: tenant counts grow by factors (10, 50, 200, 1,000).
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { screenshot } from '@gorten/testenv';

export interface Series {
  name: string;
  color: string;
  points: readonly { x: number; y: number }[];
}

export interface Panel {
  title: string;
  series: readonly Series[];
  /** A horizontal line the series should stay under, e.g. a target. */
  limit?: { y: number; label: string };
}

export interface Chart {
  title: string;
  xLabel: string;
  /** The x values that get a tick (the measured counts). */
  xTicks: readonly number[];
  panels: readonly Panel[];
}

const PANEL = { width: 460, height: 360, left: 64, right: 16, top: 44, bottom: 64 };
const HEADER = 40;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step for about `count` ticks from 0 to `max` (1, 2 or 5 times a power of ten). */
export function tickStep(max: number, count = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? 10 * power;
}

/** The chart as one SVG document, `width` × `height` pixels. */
export function chartSvg(chart: Chart): { svg: string; width: number; height: number } {
  const width = PANEL.width * chart.panels.length;
  const height = HEADER + PANEL.height;
  const xs = chart.xTicks.length > 0 ? chart.xTicks : [1];
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const plotWidth = PANEL.width - PANEL.left - PANEL.right;
  const plotHeight = PANEL.height - PANEL.top - PANEL.bottom;
  const xAt = (x: number) =>
    PANEL.left +
    (xMax === xMin
      ? plotWidth / 2
      : ((Math.log(x) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * plotWidth);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  chart.panels.forEach((panel, i) => {
    const values = panel.series.flatMap((s) => s.points.map((p) => p.y));
    const top = Math.max(...values, panel.limit?.y ?? 0, 0) * 1.1;
    const step = tickStep(top);
    const yMax = Math.max(step, Math.ceil(top / step) * step);
    const yAt = (y: number) => PANEL.top + plotHeight - (y / yMax) * plotHeight;
    const g: string[] = [`<g transform="translate(${i * PANEL.width},${HEADER})">`];
    g.push(
      `<text x="${PANEL.left + plotWidth / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(panel.title)}</text>`,
    );
    for (let y = 0; y <= yMax + step / 1e6; y += step) {
      const label = Number(y.toPrecision(6));
      g.push(
        `<line x1="${PANEL.left}" x2="${PANEL.left + plotWidth}" y1="${yAt(y)}" y2="${yAt(y)}" stroke="#e3e3e3"/>`,
        `<text x="${PANEL.left - 6}" y="${yAt(y) + 4}" text-anchor="end" font-size="11">${label}</text>`,
      );
    }
    for (const x of xs) {
      g.push(
        `<line x1="${xAt(x)}" x2="${xAt(x)}" y1="${PANEL.top}" y2="${PANEL.top + plotHeight}" stroke="#f0f0f0"/>`,
        `<text x="${xAt(x)}" y="${PANEL.top + plotHeight + 16}" text-anchor="middle" font-size="11">${x}</text>`,
      );
    }
    g.push(
      `<rect x="${PANEL.left}" y="${PANEL.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`,
      `<text x="${PANEL.left + plotWidth / 2}" y="${PANEL.top + plotHeight + 34}" text-anchor="middle" font-size="12">${escapeXml(chart.xLabel)}</text>`,
    );
    if (panel.limit) {
      const y = yAt(panel.limit.y);
      g.push(
        `<line x1="${PANEL.left}" x2="${PANEL.left + plotWidth}" y1="${y}" y2="${y}" stroke="#c0392b" stroke-dasharray="6 4"/>`,
        `<text x="${PANEL.left + plotWidth - 4}" y="${y - 5}" text-anchor="end" font-size="11" fill="#c0392b">${escapeXml(panel.limit.label)}</text>`,
      );
    }
    panel.series.forEach((series, s) => {
      const points = [...series.points].sort((a, b) => a.x - b.x);
      const path = points.map((p) => `${xAt(p.x).toFixed(1)},${yAt(p.y).toFixed(1)}`).join(' ');
      g.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
      for (const p of points)
        g.push(
          `<circle cx="${xAt(p.x).toFixed(1)}" cy="${yAt(p.y).toFixed(1)}" r="3.5" fill="${series.color}"/>`,
        );
      const legendY = PANEL.top + plotHeight + 52;
      const legendX = PANEL.left + s * 150;
      g.push(
        `<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="2"/>`,
        `<text x="${legendX + 24}" y="${legendY}" font-size="12">${escapeXml(series.name)}</text>`,
      );
    });
    g.push('</g>');
    parts.push(g.join(''));
  });
  parts.push('</svg>');
  return { svg: parts.join('\n'), width, height };
}

/** Writes the chart as `<png>` and, beside it, the SVG it was rendered from (`.svg`). */
export async function writeChart(chart: Chart, png: string): Promise<void> {
  const { svg, width, height } = chartSvg(chart);
  const svgFile = png.replace(/\.png$/, '') + '.svg';
  writeFileSync(svgFile, svg);
  await screenshot(pathToFileURL(svgFile).href, png, { width, height, budgetMs: 1_000 });
}
