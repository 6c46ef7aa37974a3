// promql.ts: listing a dashboard's and rules' expressions, with Grafana's template variables
// replaced by values Prometheus accepts.
import {
  asRecordingRules,
  dashboardExpressions,
  promqlExpressions,
  ruleExpressions,
  substituteVariables,
} from './promql.js';

describe('substituteVariables', () => {
  test('replaces $name, ${name}, ${name:format} and [[name]]', () => {
    expect(
      substituteVariables(
        'rate(x{a=~"$marketplace",b=~"${marketplace}",c=~"${marketplace:regex}",d=~"[[marketplace]]"}[$__rate_interval])',
      ),
    ).toBe('rate(x{a=~".*",b=~".*",c=~".*",d=~".*"}[5m])');
  });

  test('takes the values given', () => {
    expect(
      substituteVariables('x{m="$marketplace"}[$__range]', { marketplace: 'demo', __range: '1h' }),
    ).toBe('x{m="demo"}[1h]');
  });

  test('leaves a regex end anchor alone', () => {
    expect(substituteVariables('x{route=~"/products$"}')).toBe('x{route=~"/products$"}');
  });

  test('an unknown variable is an error naming it', () => {
    expect(() => substituteVariables('x{service=~"$service"}')).toThrow(
      'no stand-in value for the variable service',
    );
  });
});

describe('dashboardExpressions', () => {
  const dashboard = {
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        {
          name: 'marketplace',
          type: 'query',
          query: { query: 'label_values(up{job="a"}, marketplace)' },
        },
        { name: 'queue', type: 'query', query: 'label_values(queue)' },
        { name: 'top', type: 'query', query: 'query_result(topk(3, x{m=~"$marketplace"}))' },
        { name: 'window', type: 'interval', query: '1m,5m' },
      ],
    },
    panels: [
      {
        id: 1,
        title: 'Top',
        type: 'timeseries',
        targets: [{ refId: 'A', expr: 'sum(a{m=~"$marketplace"})' }],
      },
      {
        id: 2,
        title: 'Row',
        type: 'row',
        panels: [
          {
            id: 3,
            title: 'Inside',
            type: 'timeseries',
            targets: [
              { refId: 'A', expr: 'rate(b[$__rate_interval])' },
              { refId: 'B', expr: '' },
            ],
          },
        ],
      },
      { id: 4, title: 'Text', type: 'text' },
    ],
  };

  test('lists variable queries, panel queries and collapsed rows’ panels, substituted', () => {
    expect(dashboardExpressions(dashboard)).toEqual([
      { where: 'variable marketplace', expr: 'up{job="a"}' },
      { where: 'variable top', expr: 'topk(3, x{m=~".*"})' },
      { where: 'panel 1 "Top" query A', expr: 'sum(a{m=~".*"})' },
      { where: 'panel 3 "Inside" query A', expr: 'rate(b[5m])' },
    ]);
  });

  test('with the rules after the dashboard, and as recording rules for promtool', () => {
    const groups = [
      {
        name: 'g',
        rules: [
          { alert: 'Down', expr: 'up == 0' },
          { record: 'r:x', expr: 'sum(x)' },
        ],
      },
    ];
    expect(ruleExpressions(groups)).toEqual([
      { where: 'rule group g alert Down', expr: 'up == 0' },
      { where: 'rule group g record r:x', expr: 'sum(x)' },
    ]);
    const all = promqlExpressions(dashboard, groups);
    expect(all.map((e) => e.expr).slice(-2)).toEqual(['up == 0', 'sum(x)']);
    expect(asRecordingRules(all.slice(0, 1))).toEqual({
      groups: [
        {
          name: '0: variable marketplace',
          rules: [{ record: 'gorten_check:expr_0', expr: 'up{job="a"}' }],
        },
      ],
    });
  });
});
