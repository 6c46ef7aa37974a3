// What a schemathesis run found, read from its JUnit report: one finding per operation
// that failed or errored, with the check codes and schemathesis' own account (the answer
// it got and the curl lines that replay it), so a failing test says exactly what broke.

export interface Finding {
  /** `POST /checkout`, or `Stateful tests`. */
  operation: string;
  /** Check codes, e.g. `ST101` (server error), `ST202` (a valid request refused). */
  codes: string[];
  detail: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (entity, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X'))
      return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return ENTITIES[name] ?? entity;
  });
}

/** The findings of a JUnit report; an operation that passed is not one. */
export function findingsOf(junitXml: string): Finding[] {
  const findings: Finding[] = [];
  // A passing operation is a self-closing <testcase/>: its body must not run on into the next.
  for (const testcase of junitXml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const [, attributes = '', body = ''] = testcase;
    const name = /\bname="([^"]*)"/.exec(attributes)?.[1] ?? '';
    for (const problem of body.matchAll(/<(failure|error)\b([^>]*)>([\s\S]*?)<\/\1>/g)) {
      const [, kind, problemAttributes = '', text = ''] = problem;
      const message = unescapeXml(/message="([^"]*)"/.exec(problemAttributes)?.[1] ?? '');
      const codes = message.match(/ST\d{3}/g) ?? [kind === 'error' ? 'error' : 'failure'];
      findings.push({
        operation: unescapeXml(name),
        codes,
        detail: unescapeXml(text).trim() || message,
      });
    }
  }
  return findings;
}
