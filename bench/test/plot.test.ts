// The benchmark's chart (plot.ts, operator-scale-chart.ts) as pure SVG text: round tick
// steps, the tenant counts on a logarithmic axis, a polyline and a dot per measured point,
// the targets drawn, and text escaped.
import { chartSvg, tickStep } from '../plot.js';
import { operatorScaleChart } from '../operator-scale-chart.js';

const ROWS = [
  { tenants: 10, secondsPerTenant: 1.21, floorSecondsPerTenant: 0.6, rssMiB: 201 },
  { tenants: 50, secondsPerTenant: 4.18, floorSecondsPerTenant: 2.32, rssMiB: 258 },
  { tenants: 1000, secondsPerTenant: 0.25, floorSecondsPerTenant: 0.2, rssMiB: 420 },
];

test('tick steps are 1, 2 or 5 times a power of ten, about five to the maximum', () => {
  expect([0.33, 4.6, 9, 550, 1100].map((max) => tickStep(max))).toEqual([0.1, 1, 2, 200, 500]);
  expect(tickStep(0)).toBe(1);
});

test('the scale chart has a panel per figure, every point, the targets and a log x axis', () => {
  const { svg, width, height } = chartSvg(operatorScaleChart(ROWS, 'a <test> & run'));
  expect([width, height]).toEqual([920, 400]);
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg).toContain('a &#60;test&#62; &#38; run');
  expect(svg).not.toContain('<test>');
  // Three series (operator, floor, RSS), a dot for each of the three counts.
  expect(svg.match(/<polyline /g)).toHaveLength(3);
  expect(svg.match(/<circle /g)).toHaveLength(9);
  expect(svg).toContain('target 0.3 s');
  expect(svg).toContain('target 500 MiB');
  // Log scale: 50 sits at log(5)/log(100) ≈ 35 % of the way from 10 to 1,000.
  const xOf = (label: string) =>
    Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${label}</text>`).exec(svg)?.[1]);
  const share = (xOf('50') - xOf('10')) / (xOf('1000') - xOf('10'));
  expect(share).toBeCloseTo(Math.log(5) / Math.log(100), 3);
});
