// The chart's alerts as Prometheus would run them: the PrometheusRule helm renders goes to
// `promtool check rules` and to `promtool test rules` with alerts.promtool.yaml, which must hold
// a firing and a quiet case for every alert; every alert has its severity, text and runbook.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '@gorten/operator';
import { CHART_DIR, KUBE_VERSION, findObject, helm, render, template } from './helm.js';
import { RULE_VALUES, chartRuleGroups, promtool } from './monitoring.js';
import type { RuleGroup } from './promql.js';

const UNIT_TESTS = join(import.meta.dirname, 'alerts.promtool.yaml');
const RUNBOOKS = join(import.meta.dirname, '..', '..', 'docs', 'monitoring.md');

interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface UnitTests {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const alertsOf = (groups: RuleGroup[]): AlertingRule[] =>
  groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gorten-alerts-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: chartRuleGroups() }));
  // Copied as it is (a YAML round trip could turn series values such as 0x12 into numbers).
  const tests = readFileSync(UNIT_TESTS, 'utf8');
  if ((parse(tests) as UnitTests).rule_files.join() !== 'rules.yaml') {
    throw new Error(`${UNIT_TESTS} must name rule_files: [rules.yaml], the file written here`);
  }
  writeFileSync(join(dir, 'tests.yaml'), tests);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the PrometheusRule', () => {
  test('is rendered only when enabled, with the labels Prometheus selects rules by', () => {
    expect(render().some((o) => o.kind === 'PrometheusRule')).toBe(false);
    const rule = findObject(
      render({
        values: { ...RULE_VALUES, prometheusRule: { enabled: true, labels: { release: 'prom' } } },
      }),
      'PrometheusRule',
    );
    expect(rule.metadata.labels).toMatchObject({
      release: 'prom',
      'app.kubernetes.io/managed-by': 'Helm',
    });
  });

  test('passes helm lint --strict, with the ServiceMonitor and the dashboard too', () => {
    const result = helm([
      'lint',
      '--strict',
      '--kube-version',
      KUBE_VERSION,
      CHART_DIR,
      ...['serviceMonitor', 'prometheusRule', 'dashboard'].flatMap((v) => [
        '--set',
        `${v}.enabled=true`,
      ]),
    ]);
    expect(`${result.stdout}${result.stderr}`).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.status).toBe(0);
  });

  test('passes promtool check rules', () => {
    const result = promtool(['check', 'rules', 'rules.yaml'], dir);
    expect(result.output).toContain(`SUCCESS: ${alertsOf(chartRuleGroups()).length} rules found`);
    expect(result.status).toBe(0);
  });

  test('passes promtool test rules: each alert fires, and stays quiet, as alerts.promtool.yaml expects', () => {
    const result = promtool(['test', 'rules', 'tests.yaml'], dir);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  test('alerts.promtool.yaml has a firing and a quiet case for every alert, and no other alert', () => {
    const cases = (parse(readFileSync(UNIT_TESTS, 'utf8')) as UnitTests).tests.flatMap(
      (t) => t.alert_rule_test ?? [],
    );
    const names = alertsOf(chartRuleGroups()).map((a) => a.alert);
    expect(names.length).toBeGreaterThanOrEqual(7);
    const coverage = (firing: boolean) =>
      [
        ...new Set(cases.filter((c) => c.exp_alerts.length > 0 === firing).map((c) => c.alertname)),
      ].sort();
    expect(coverage(true)).toEqual([...names].sort());
    expect(coverage(false)).toEqual([...names].sort());
  });

  test('every alert has a severity, a summary, a description and a runbook in docs/monitoring.md', () => {
    const runbooks = readFileSync(RUNBOOKS, 'utf8');
    for (const alert of alertsOf(chartRuleGroups())) {
      expect(['critical', 'warning', 'info']).toContain(alert.labels.severity);
      expect(Object.keys(alert.annotations).sort()).toEqual([
        'description',
        'runbook_url',
        'summary',
      ]);
      const anchor = alert.alert.toLowerCase();
      expect(alert.annotations.runbook_url).toBe(
        `https://github.com/gorten/gorten/blob/main/docs/monitoring.md#${anchor}`,
      );
      // GitHub's anchor of a heading is its text lower-cased.
      expect(runbooks).toMatch(new RegExp(`^#{2,4} ${alert.alert}$`, 'm'));
    }
  });

  test('thresholds, durations, severities, labels and the operator selector come from values', () => {
    const rule = findObject(
      render({
        values: {
          prometheusRule: {
            enabled: true,
            operatorSelector: 'job="gorten-operator"',
            runbookUrl: 'https://wiki.example/gorten',
            alertLabels: { team: 'shop' },
            alerts: {
              marketplaceNotReady: { for: '30m', severity: 'critical' },
              checkoutFailureRatio: { threshold: 0.2, window: '15m', outcomes: 'failed|declined' },
              latencyP99: { thresholdSeconds: 2.5 },
              outboxBacklog: { thresholdSeconds: 600 },
            },
          },
        },
      }),
      'PrometheusRule',
    ) as KubeObject & { spec: { groups: RuleGroup[] } };
    const alerts = new Map(alertsOf(rule.spec.groups).map((a) => [a.alert, a]));
    expect(alerts.get('GortenOperatorDown')?.expr).toBe('absent(up{job="gorten-operator"} == 1)');
    expect(alerts.get('GortenMarketplaceNotReady')).toMatchObject({
      for: '30m',
      labels: { severity: 'critical', team: 'shop' },
    });
    const checkout = alerts.get('GortenCheckoutFailureRatioHigh')?.expr ?? '';
    expect(checkout).toContain('outcome=~"failed|declined"');
    expect(checkout).toContain('[15m]');
    expect(checkout).toMatch(/> 0\.2$/);
    expect(alerts.get('GortenLatencyP99High')?.expr).toMatch(/> 2\.5$/);
    expect(alerts.get('GortenOutboxBacklogOld')?.expr).toMatch(/> 600$/);
    expect(alerts.get('GortenCircuitOpen')?.annotations.runbook_url).toBe(
      'https://wiki.example/gorten#gortencircuitopen',
    );
  });

  test('is refused when nothing says how the operator is scraped', () => {
    const result = template({ values: { prometheusRule: { enabled: true } } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('prometheusRule.enabled needs serviceMonitor.enabled');
  });

  test('a threshold that is not a number is rejected, naming the field', () => {
    const result = template({
      values: {
        ...RULE_VALUES,
        prometheusRule: { alerts: { latencyP99: { thresholdSeconds: '1s' } } },
      },
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('/prometheusRule/alerts/latencyP99/thresholdSeconds');
  });
});
