// Every PromQL expression Gorten ships, ready to evaluate: the Grafana dashboard's panel
// queries and variable queries, and the alerting rules' expressions, with the dashboard's
// template variables replaced by values any Prometheus accepts. Pure: the callers read the
// dashboard file and render the rules (monitoring.ts), and run what this lists.

/** One expression and where it comes from, for an error message that names its source. */
export interface PromqlExpression {
  where: string;
  expr: string;
}

export interface RuleGroup {
  name: string;
  rules: { alert?: string; record?: string; expr: string }[];
}

/**
 * What each variable stands for when an expression runs outside Grafana: `.*` matches every
 * marketplace (the variable's "All"); the intervals are Grafana's built-ins at a 6 h range.
 */
export const VARIABLE_STAND_INS: Readonly<Record<string, string>> = {
  marketplace: '.*',
  __rate_interval: '5m',
  __interval: '1m',
  __range: '6h',
};

// $name, ${name}, ${name:format} and [[name]], as Grafana writes them.
const VARIABLE = /\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g;

/** `expr` with every template variable replaced; an unknown one is an error naming it. */
export function substituteVariables(
  expr: string,
  values: Readonly<Record<string, string>> = VARIABLE_STAND_INS,
): string {
  return expr.replace(VARIABLE, (match, braced?: string, bracketed?: string, bare?: string) => {
    const name = braced ?? bracketed ?? bare ?? '';
    const value = values[name];
    if (value === undefined) {
      throw new Error(`${match} in "${expr}": no stand-in value for the variable ${name}`);
    }
    return value;
  });
}

interface Panel {
  id?: number;
  title?: string;
  type?: string;
  panels?: Panel[];
  targets?: { refId?: string; expr?: string }[];
}

interface Variable {
  name?: string;
  type?: string;
  query?: string | { query?: string };
}

interface Dashboard {
  panels?: Panel[];
  templating?: { list?: Variable[] };
}

/** label_values(selector, label) → selector; label_values(label) has no expression. */
function variableExpression(query: string): string | undefined {
  const labelValues = /^\s*label_values\((.+),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues) return labelValues[1]?.trim();
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(query)) return undefined;
  const queryResult = /^\s*query_result\((.+)\)\s*$/.exec(query);
  if (queryResult) return queryResult[1]?.trim();
  if (/^\s*(label_names|metrics)\(/.test(query)) return undefined;
  return query.trim() || undefined;
}

/** Every panel's every query (rows' nested panels too), and the query variables' expressions. */
export function dashboardExpressions(
  dashboard: unknown,
  values: Readonly<Record<string, string>> = VARIABLE_STAND_INS,
): PromqlExpression[] {
  const { panels = [], templating } = dashboard as Dashboard;
  const found: PromqlExpression[] = [];
  for (const variable of templating?.list ?? []) {
    if (variable.type !== 'query') continue;
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    const expr = query === undefined ? undefined : variableExpression(query);
    if (expr) {
      found.push({ where: `variable ${variable.name}`, expr: substituteVariables(expr, values) });
    }
  }
  const visit = (panel: Panel): void => {
    for (const target of panel.targets ?? []) {
      if (!target.expr) continue;
      found.push({
        where: `panel ${panel.id} "${panel.title}" query ${target.refId}`,
        expr: substituteVariables(target.expr, values),
      });
    }
    panel.panels?.forEach(visit);
  };
  panels.forEach(visit);
  return found;
}

/** Every alerting and recording rule's expression. */
export function ruleExpressions(groups: readonly RuleGroup[]): PromqlExpression[] {
  return groups.flatMap((group) =>
    group.rules.map((rule) => ({
      where: `rule group ${group.name} ${rule.alert ? `alert ${rule.alert}` : `record ${rule.record}`}`,
      expr: rule.expr,
    })),
  );
}

/** Everything Gorten asks Prometheus: the dashboard's expressions, then the rules'. */
export function promqlExpressions(
  dashboard: unknown,
  ruleGroups: readonly RuleGroup[],
  values: Readonly<Record<string, string>> = VARIABLE_STAND_INS,
): PromqlExpression[] {
  return [...dashboardExpressions(dashboard, values), ...ruleExpressions(ruleGroups)];
}

/**
 * Expressions as recording rules (gorten_check:expr_<n>), so `promtool check rules` parses each
 * with Prometheus' own parser; group names carry where each came from.
 */
export function asRecordingRules(expressions: readonly PromqlExpression[]): {
  groups: RuleGroup[];
} {
  return {
    groups: expressions.map((e, i) => ({
      name: `${i}: ${e.where}`,
      rules: [{ record: `gorten_check:expr_${i}`, expr: e.expr }],
    })),
  };
}
