// Reading schemathesis' JUnit report: each failing or erroring operation becomes one
// finding with its check codes and the account schemathesis gives, XML entities undone.
import { findingsOf } from './report.js';

const REPORT = `<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="1" failures="1" skipped="0" tests="3" time="1.5">
  <testsuite name="schemathesis" hostname="vm" errors="1" failures="1" skipped="0" tests="3" time="1.5">
    <testcase name="GET /categories" time="0.3">
    </testcase>
    <testcase name="GET /products" time="0.4"/>
    <testcase name="PATCH /categories/{id}" time="0.5">
      <failure type="failure" message="ST101, ST204">1. Test Case ID: KhrAIf

- ST101 Server error

[500] Internal Server Error:

    \`{&quot;status&quot;:500}\`

Reproduce with:

    curl -X PATCH 'http://127.0.0.1:1/categories/cat_1?a=1&amp;b=&lt;2&gt;&#39;'</failure>
    </testcase>
    <testcase name="Stateful tests" time="0.3">
      <error type="error" message="Connection refused">Connection refused</error>
    </testcase>
  </testsuite>
</testsuites>`;

test('a failing operation is one finding with its codes and its replay; passing ones are none', () => {
  const findings = findingsOf(REPORT);
  expect(findings.map(({ operation, codes }) => ({ operation, codes }))).toEqual([
    { operation: 'PATCH /categories/{id}', codes: ['ST101', 'ST204'] },
    { operation: 'Stateful tests', codes: ['error'] },
  ]);
  expect(findings[0]?.detail).toContain('{"status":500}');
  expect(findings[0]?.detail).toContain(
    "curl -X PATCH 'http://127.0.0.1:1/categories/cat_1?a=1&b=<2>''",
  );
  expect(findings[1]?.detail).toBe('Connection refused');
});

test('a report of passing operations only has no findings', () => {
  expect(
    findingsOf(
      '<testsuites><testsuite><testcase name="GET /x" time="1"/></testsuite></testsuites>',
    ),
  ).toEqual([]);
});
