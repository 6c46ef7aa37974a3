// The Grafana dashboard: a ConfigMap Grafana's sidecar picks up (only when enabled, label
// configurable), valid dashboard JSON (uid, schemaVersion, a datasource variable, panels laid
// out on the 24-column grid), per-tenant panels filtered by $marketplace, and every expression
// parsed by Prometheus' own parser (promtool).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubeObject } from '@gorten/operator';
import { findObject, render } from './helm.js';
import { DASHBOARD_FILE, chartRuleGroups, promtool, readDashboard } from './monitoring.js';
import {
  asRecordingRules,
  dashboardExpressions,
  promqlExpressions,
  ruleExpressions,
} from './promql.js';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown; includeAll?: boolean }[] };
}

const dashboard = readDashboard() as Dashboard;
const allPanels = (panels: Panel[]): Panel[] =>
  panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const queryPanels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');

describe('the dashboard ConfigMap', () => {
  test('is rendered only when enabled, labelled grafana_dashboard: "1" for the sidecar', () => {
    expect(render().some((o) => o.kind === 'ConfigMap')).toBe(false);
    const map = findObject(
      render({ values: { dashboard: { enabled: true } } }),
      'ConfigMap',
    ) as KubeObject & {
      data: Record<string, string>;
    };
    expect(map.metadata.labels).toMatchObject({
      grafana_dashboard: '1',
      'app.kubernetes.io/part-of': 'gorten',
    });
    expect(Object.keys(map.data)).toEqual(['gorten.json']);
    expect(JSON.parse(map.data['gorten.json'] ?? '')).toEqual(dashboard);
  });

  test('takes its label, namespace and annotations (e.g. a folder) from values', () => {
    const map = findObject(
      render({
        values: {
          dashboard: {
            enabled: true,
            label: { name: 'dashboards', value: 'shop' },
            namespace: 'monitoring',
            annotations: { 'k8s-sidecar-target-directory': 'Gorten' },
          },
        },
      }),
      'ConfigMap',
    );
    expect(map.metadata.labels).toMatchObject({ dashboards: 'shop' });
    expect(map.metadata.labels).not.toHaveProperty('grafana_dashboard');
    expect(map.metadata.namespace).toBe('monitoring');
    expect(map.metadata.annotations).toEqual({ 'k8s-sidecar-target-directory': 'Gorten' });
  });
});

describe('the dashboard JSON', () => {
  test('has a uid, a title, a schemaVersion, and datasource and marketplace variables', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBe('Gorten');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('marketplace')).toMatchObject({ type: 'query', includeAll: true });
    // Nothing pins a data source by uid: the sidecar's Grafana has its own.
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).not.toContain('__inputs');
  });

  test('every panel has a unique id and a place on the 24-column grid, none overlapping', () => {
    const panels = allPanels(dashboard.panels);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const taken = new Map<string, number>();
    for (const panel of panels) {
      const { h, w, x, y } = panel.gridPos;
      expect([h, w, x, y].every(Number.isInteger)).toBe(true);
      expect(x >= 0 && w > 0 && x + w <= 24 && h > 0 && y >= 0).toBe(true);
      for (let row = y; row < y + h; row++)
        for (let column = x; column < x + w; column++) {
          const cell = `${row},${column}`;
          expect({ cell, panel: panel.id, over: taken.get(cell) }).toEqual({
            cell,
            panel: panel.id,
            over: undefined,
          });
          taken.set(cell, panel.id);
        }
    }
  });

  test('every query uses the datasource variable', () => {
    for (const panel of queryPanels) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const target of panel.targets ?? [])
        expect(target.datasource?.uid).toBe('${datasource}');
    }
  });

  test('every per-tenant query filters by $marketplace; the operator’s have no tenant label', () => {
    for (const panel of queryPanels) {
      for (const target of panel.targets ?? []) {
        const perTenant = !/\bgorten_operator_/.test(target.expr);
        expect({ panel: panel.title, filtered: target.expr.includes('$marketplace') }).toEqual({
          panel: panel.title,
          filtered: perTenant,
        });
      }
    }
  });

  test('has the panels operators need', () => {
    const expressions = queryPanels
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr)
      .join('\n');
    for (const metric of [
      'http_server_request_duration_seconds_count',
      'http_server_request_duration_seconds_bucket',
      'gorten_checkouts_total',
      'gorten_orders',
      'gorten_payment_amount_minor_units_total',
      'gorten_dlq_messages',
      'gorten_consumer_lag_messages',
      'gorten_outbox_oldest_entry_age_seconds',
      'dependency_circuit_state',
      'gorten_cache_requests_total',
      'gorten_trace_spans_dropped_total',
      'gorten_operator_plane_duration_seconds_bucket',
      'gorten_operator_plane_errors_total',
      'gorten_operator_marketplaces',
    ]) {
      expect({ metric, used: new RegExp(`\\b${metric}\\b`).test(expressions) }).toEqual({
        metric,
        used: true,
      });
    }
  });

  test('promtool parses every expression of the dashboard and the rules', () => {
    const groups = chartRuleGroups();
    const expressions = promqlExpressions(dashboard, groups);
    expect(expressions.length).toBe(
      dashboardExpressions(dashboard).length + ruleExpressions(groups).length,
    );
    const dir = mkdtempSync(join(tmpdir(), 'gorten-dashboard-'));
    try {
      writeFileSync(join(dir, 'expressions.yaml'), stringify(asRecordingRules(expressions)));
      const result = promtool(['check', 'rules', 'expressions.yaml'], dir);
      expect(result.output).toContain(`SUCCESS: ${expressions.length} rules found`);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
