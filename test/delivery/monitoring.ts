// What the chart ships for monitoring, as Prometheus and Grafana get it: the alerting rules the
// PrometheusRule renders (through the real helm), the dashboard JSON, and promtool to check them.
// promql.ts lists the expressions of both.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_DIR, findObject, render } from './helm.js';
import type { RuleGroup } from './promql.js';

export const DASHBOARD_FILE = join(CHART_DIR, 'files', 'dashboards', 'gorten.json');

/** The values the rules are tested with: enabled, the operator scraped by the chart's monitor. */
export const RULE_VALUES = { prometheusRule: { enabled: true }, serviceMonitor: { enabled: true } };

/** The PrometheusRule's spec.groups as helm renders them with RULE_VALUES. */
export function chartRuleGroups(): RuleGroup[] {
  const rule = findObject(render({ values: RULE_VALUES }), 'PrometheusRule') as unknown as {
    spec: { groups: RuleGroup[] };
  };
  return rule.spec.groups;
}

export function readDashboard(): unknown {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

export interface PromtoolResult {
  status: number | null;
  output: string;
}

/** Debian's promtool (package prometheus); missing, it fails saying how to get it. */
export function promtool(args: readonly string[], cwd?: string): PromtoolResult {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      'promtool is not on PATH: it comes with Debian\'s "prometheus" package ' +
        '(sudo apt-get install prometheus; .ci/run installs it on a fresh machine)',
    );
  }
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
