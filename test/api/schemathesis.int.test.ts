// The API contract from outside: schemathesis (tools/schemathesis) fuzzes every service's
// OpenAPI document with all of its checks, anonymously and as a buyer, a seller and an
// admin, against the services of one tenant on the real FerretDB and RabbitMQ. No server
// error, no answer that breaks its schema, no status the document does not list, no
// schema-valid request refused with a 400: each finding is reported as schemathesis tells
// it, with the curl lines that replay it. The seed is fixed (in the test names) so a
// failure comes back; GORTEN_SCHEMATHESIS_SEED tries another.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTracked, spawnTracked } from '@gorten/testenv';
import { findingsOf, type Finding } from './report.js';
import {
  API_SERVICES,
  IDENTITIES,
  startStack,
  type ApiService,
  type Identity,
  type Stack,
} from './stack.js';

const TOOL = join(import.meta.dirname, '..', '..', 'tools', 'schemathesis');
const SEED = Number(process.env.GORTEN_SCHEMATHESIS_SEED ?? 20261201);
/** Per operation in the fuzzing phase; the coverage phase's cases come on top. */
const MAX_EXAMPLES = 10;
/**
 * Two fuzzers at once: the services (one event loop) mostly wait on the database, so two
 * keep two cores busy without starving them.
 */
const CONCURRENCY = 2;

interface RunResult {
  exitCode: number | null;
  findings: Finding[];
  output: string;
}

let schemathesis: string;
let stack: Stack | undefined;
let work: string;
const children = new Set<ChildProcess>();
const runs = new Map<string, Promise<RunResult>>();
const key = (service: ApiService, identity: Identity) => `${service} as ${identity}`;

function runSchemathesis(service: ApiService, identity: Identity): Promise<RunResult> {
  if (!stack) throw new Error('the services did not start (see beforeAll)');
  const url = stack.urls[service];
  const token = stack.tokens[identity];
  const report = join(work, `${service}-${identity}.xml`);
  const args = [
    '--config-file',
    join(TOOL, 'schemathesis.toml'),
    'run',
    `${url}/openapi.json`,
    '--url',
    url,
    '--checks',
    'all',
    '--seed',
    String(SEED),
    '--max-examples',
    String(MAX_EXAMPLES),
    '--no-color',
    '--report',
    'junit',
    '--report-junit-path',
    report,
    ...(token ? ['--header', `Authorization: Bearer ${token}`] : []),
  ];
  return new Promise((resolve, reject) => {
    // Its own folder: schemathesis and Hypothesis write state beside where they run.
    const child = spawnTracked('schemathesis', schemathesis, args, {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      children.delete(child);
      let findings: Finding[] = [];
      try {
        findings = findingsOf(readFileSync(report, 'utf8'));
      } catch {
        // no report: the output says why
      }
      resolve({ exitCode, findings, output });
    });
  });
}

const QUEUE = API_SERVICES.flatMap((service) =>
  IDENTITIES.map((identity) => ({ service, identity })),
);

/**
 * The run a test reads, started now if it was not, together with the ones after it so
 * that `CONCURRENCY` run at once while the tests read them in order (a test picked out
 * with -t starts one more than it needs).
 */
function runOf(service: ApiService, identity: Identity): Promise<RunResult> {
  const index = QUEUE.findIndex((q) => q.service === service && q.identity === identity);
  for (const ahead of QUEUE.slice(index, index + CONCURRENCY)) {
    const id = key(ahead.service, ahead.identity);
    if (!runs.has(id)) runs.set(id, runSchemathesis(ahead.service, ahead.identity));
  }
  return runs.get(key(service, identity))!;
}

beforeAll(async () => {
  // Installed once into the cache (about 15 s), then only checked.
  schemathesis = execFileSync('bash', [join(TOOL, 'venv.sh'), 'install'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  work = mkdtempSync(join(tmpdir(), 'gorten-schemathesis-'));
  stack = await startStack();
}, 180_000);

afterAll(async () => {
  await Promise.all([...children].map((child) => killTracked(child)));
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

/** One finding as the failure shows it; a generated value of thousands of characters is cut. */
function describeFinding(finding: Finding): string {
  const detail = finding.detail
    .split('\n')
    .map((line) =>
      line.length > 600 ? `${line.slice(0, 600)}… (${line.length} characters)` : line,
    )
    .join('\n');
  return `${finding.operation} [${finding.codes.join(', ')}]\n${detail}`;
}

describe(`schemathesis ${MAX_EXAMPLES} examples, --checks all, seed ${SEED}`, () => {
  describe.each(API_SERVICES)('%s', (service) => {
    test.each(IDENTITIES)(`as %s: no findings`, async (identity) => {
      const result = await runOf(service, identity);
      const findings = result.findings.map(describeFinding);
      const replay = `Replay: GORTEN_SCHEMATHESIS_SEED=${SEED} npm run test:jest -- test/api/schemathesis.int.test.ts -t '${service} as ${identity}'`;
      expect({ findings, replay }).toEqual({ findings: [], replay });
      // A run that could not test (no document, a crash) has findings nowhere but here.
      if (result.findings.length === 0)
        expect({ exitCode: result.exitCode, output: result.output.slice(-3_000) }).toMatchObject({
          exitCode: 0,
        });
    });
  });
});
