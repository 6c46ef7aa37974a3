// Benchmark: N Marketplaces applied at once against the real test environment.
// Reports, per N (median of --runs runs): seconds until all are Ready, and as a ratio to
// the floor's (operator-floor.ts: the same writes without logic, just before), Kubernetes API
// requests and reconciles per tenant, writes and API requests during a steady-state
// resync (targets 0 and ≤ 1 per tenant), operator memory (resident, and the heap in use).
//
//   npm run bench:operator -- [--runs 3] [--resync 20] [--plot bench/operator-scale.png] 10 50 200
//
// Besides the table it draws the figures per tenant count (operator-scale-chart.ts) into
// --plot, a PNG (and the SVG beside it) for bench/README.md.
//
// The operator runs as the image runs it: its own process, `node dist/operator.mjs`
// (the esbuild bundle, built first), so its memory and start-up are production's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { currentEnvFile, envVars, loadTestEnv } from '@gorten/testenv';
import {
  findCondition,
  installCrds,
  Kube,
  loadConfig,
  readCrds,
  type Marketplace,
} from '@gorten/operator';
import { runFloor } from './operator-floor.js';
import { operatorScaleChart, type ScaleRow } from './operator-scale-chart.js';
import { writeChart } from './plot.js';
import { freePort, median, ROOT, waitUntil } from './support.js';

const { values, positionals } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    resync: { type: 'string', default: '20' },
    plot: { type: 'string' },
  },
  allowPositionals: true,
});
const sizes = (positionals.length > 0 ? positionals : ['10', '50']).map(Number);
const runs = Number(values.runs);
const resyncSeconds = Number(values.resync);

const env = loadTestEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.kube.kubeconfig);
const kube = new Kube(kc);
// The operator's own configuration from the same environment: the floor writes as it would.
const operatorConfig = loadConfig({ ...process.env, ...envVars(env, currentEnvFile()) });
const MARKETPLACE = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' } as const;
const RECONCILES = 'gorten_operator_reconcile_total{controller="marketplace"';
const BUNDLER = join(ROOT, 'tools', 'build', 'bundle.ts');
const PLOT = values.plot ? resolve(values.plot) : join(ROOT, 'bench', 'operator-scale.png');
const OPERATOR_BUNDLE = join(ROOT, 'dist', 'operator.mjs');

interface Sample {
  secondsToReady: number;
  /** The floor's seconds for as many tenants, just before (operator-floor.ts). */
  floorSeconds: number;
  readsPerTenant: number;
  writesPerTenant: number;
  reconcilesPerTenant: number;
  steadyStateWrites: number;
  steadyStateRequestsPerTenant: number;
  rssMiB: number;
  /** The JavaScript heap in use (of the RSS): what the caches and queues hold. */
  heapMiB: number;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

function startOperator(selector: string, port: number): ChildProcess {
  return spawn(process.execPath, [OPERATOR_BUNDLE], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      ...envVars(env, currentEnvFile()),
      GORTEN_LEADER_ELECT: 'false',
      GORTEN_METRICS_PORT: String(port),
      GORTEN_MARKETPLACE_SELECTOR: selector,
      GORTEN_RESYNC_SECONDS: String(resyncSeconds),
      GORTEN_LOG_LEVEL: 'error',
    },
  });
}

async function once(n: number, port: number): Promise<Sample> {
  const run = randomBytes(3).toString('hex');
  const floorNames = Array.from({ length: n }, (_, i) => `f${run}-${i}`);
  const floor = await runFloor(kube, env, operatorConfig, floorNames, {
    'gorten.io/bench-floor': run,
  });
  await floor.cleanUp();
  const selector = `gorten.io/bench=${run}`;
  const operator = startOperator(selector, port);
  const names = Array.from({ length: n }, (_, i) => `b${run}-${i}`);
  try {
    await waitUntil('operator metrics', 60_000, () =>
      metric(port, 'gorten_operator_leader').then(
        () => true,
        () => false,
      ),
    );
    const started = performance.now();
    await Promise.all(
      names.map((name) =>
        kube.create({
          ...MARKETPLACE,
          metadata: { name, labels: { 'gorten.io/bench': run } },
          spec: { displayName: name, host: `${name}.bench.example.com`, deletionPolicy: 'Delete' },
        }),
      ),
    );
    await waitUntil(`${n} Marketplaces Ready`, 30 * 60_000, async () => {
      const list = await kube.list<Marketplace>(
        MARKETPLACE,
        `labelSelector=gorten.io/bench=${run}`,
      );
      return (
        list.items.filter((m) => findCondition(m.status?.conditions, 'Ready')?.status === 'True')
          .length === n
      );
    });
    const secondsToReady = (performance.now() - started) / 1000;
    const reads = await metric(port, 'gorten_operator_kube_requests_total{verb="read"}');
    const writes = await metric(port, 'gorten_operator_kube_requests_total{verb="write"}');
    const reconciles = await metric(port, RECONCILES);
    // Let in-flight work settle, then watch one whole resync.
    await sleep(3_000);
    const before =
      (await metric(port, 'gorten_operator_kube_requests_total{verb="write"}')) +
      (await metric(port, 'gorten_operator_dependency_writes_total'));
    const reconcilesBefore = await metric(port, RECONCILES);
    const requestsBefore = await metric(port, 'gorten_operator_kube_requests_total');
    await sleep((resyncSeconds + 5) * 1000);
    const after =
      (await metric(port, 'gorten_operator_kube_requests_total{verb="write"}')) +
      (await metric(port, 'gorten_operator_dependency_writes_total'));
    const resyncReconciles = (await metric(port, RECONCILES)) - reconcilesBefore;
    if (resyncReconciles < n) throw new Error('the resync did not reconcile every tenant');
    // Per reconcile of the window: the window may hold a little more than one resync.
    const requestsPerReconcile =
      ((await metric(port, 'gorten_operator_kube_requests_total')) - requestsBefore) /
      resyncReconciles;
    const rss = await metric(port, 'process_resident_memory_bytes');
    return {
      secondsToReady,
      floorSeconds: floor.seconds,
      readsPerTenant: reads / n,
      writesPerTenant: writes / n,
      reconcilesPerTenant: reconciles / n,
      steadyStateWrites: after - before,
      steadyStateRequestsPerTenant: requestsPerReconcile,
      rssMiB: rss / 2 ** 20,
      heapMiB: (await metric(port, 'nodejs_heap_size_used_bytes')) / 2 ** 20,
    };
  } finally {
    await Promise.all(names.map((name) => kube.delete({ ...MARKETPLACE, name })));
    await waitUntil('bench Marketplaces deleted', 10 * 60_000, async () => {
      const list = await kube.list<Marketplace>(
        MARKETPLACE,
        `labelSelector=gorten.io/bench=${run}`,
      );
      return list.items.length === 0;
    }).catch((err: unknown) => console.error(String(err)));
    operator.kill('SIGTERM');
    await new Promise((r) => operator.once('exit', r));
  }
}

await installCrds(kube, readCrds());
const build = spawnSync(process.execPath, ['--import', 'tsx', BUNDLER, 'operator'], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (build.status !== 0) throw new Error('building dist/operator.mjs failed (see above)');
console.log(
  `servers: ${Object.entries(env.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}; resync ${resyncSeconds} s; ${runs} run(s) each`,
);
console.log(
  'tenants | s to all Ready | s per tenant | floor s | operator/floor | API reads/tenant | API writes/tenant | reconciles/tenant to Ready | writes in a steady resync | API requests/tenant in a resync | operator RSS MiB | of it heap in use MiB',
);
const rows: ScaleRow[] = [];
for (const n of sizes) {
  const samples: Sample[] = [];
  for (let r = 0; r < runs; r++) samples.push(await once(n, await freePort()));
  const m = (f: (s: Sample) => number) => median(samples.map(f));
  rows.push({
    tenants: n,
    secondsPerTenant: m((s) => s.secondsToReady) / n,
    floorSecondsPerTenant: m((s) => s.floorSeconds) / n,
    rssMiB: m((s) => s.rssMiB),
  });
  console.log(
    [
      n,
      m((s) => s.secondsToReady).toFixed(1),
      (m((s) => s.secondsToReady) / n).toFixed(2),
      m((s) => s.floorSeconds).toFixed(1),
      m((s) => s.secondsToReady / s.floorSeconds).toFixed(2),
      m((s) => s.readsPerTenant).toFixed(1),
      m((s) => s.writesPerTenant).toFixed(1),
      m((s) => s.reconcilesPerTenant).toFixed(1),
      m((s) => s.steadyStateWrites),
      m((s) => s.steadyStateRequestsPerTenant).toFixed(1),
      m((s) => s.rssMiB).toFixed(0),
      m((s) => s.heapMiB).toFixed(0),
    ].join(' | '),
  );
}
const when = new Date().toISOString().slice(0, 10);
await writeChart(
  operatorScaleChart(rows, `${when}, medians of ${runs}, resync ${resyncSeconds} s`),
  PLOT,
);
console.log(`plot: ${PLOT} (and its .svg)`);
kube.close();
