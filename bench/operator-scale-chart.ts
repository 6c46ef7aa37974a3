// The operator benchmark's figures per tenant count as a chart (plot.ts): seconds per
// tenant until all are Ready, the operator's beside the floor's, and the operator's
// resident memory, each against its target (200 tenants in 60 s and 1,000 in 5 min are
// both 0.3 s per tenant; RSS ≤ 500 MiB at 1,000).
import type { Chart } from './plot.js';

export interface ScaleRow {
  tenants: number;
  secondsPerTenant: number;
  floorSecondsPerTenant: number;
  rssMiB: number;
}

export const SECONDS_PER_TENANT_TARGET = 0.3;
export const RSS_TARGET_MIB = 500;

export function operatorScaleChart(rows: readonly ScaleRow[], subtitle: string): Chart {
  const points = (y: (r: ScaleRow) => number) => rows.map((r) => ({ x: r.tenants, y: y(r) }));
  return {
    title: `Operator at scale: ${subtitle}`,
    xLabel: 'Marketplaces applied at once (log scale)',
    xTicks: rows.map((r) => r.tenants),
    panels: [
      {
        title: 'seconds per tenant until all are Ready',
        series: [
          { name: 'operator', color: '#1f77b4', points: points((r) => r.secondsPerTenant) },
          { name: 'floor', color: '#7f7f7f', points: points((r) => r.floorSecondsPerTenant) },
        ],
        limit: { y: SECONDS_PER_TENANT_TARGET, label: 'target 0.3 s' },
      },
      {
        title: 'operator resident memory (MiB)',
        series: [{ name: 'operator RSS', color: '#2ca02c', points: points((r) => r.rssMiB) }],
        limit: { y: RSS_TARGET_MIB, label: 'target 500 MiB' },
      },
    ],
  };
}
