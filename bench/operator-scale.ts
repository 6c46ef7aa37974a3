// Benchmark: N Marketplaces applied at once against the real test environment.
// Reports, per N (median of --runs runs): seconds until all are Ready, Kubernetes API
// requests per tenant, writes during a steady-state resync (target 0), operator memory.
//
//   npm run bench:operator -- [--runs 3] [--resync 20] 10 50 200
//
// The operator runs as its own process (as in production), so its memory is its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { currentEnvFile, envVars, loadTestEnv } from '@gorten/testenv';
import { findCondition, installCrds, Kube, readCrds, type Marketplace } from '@gorten/operator';
import { freePort, median, waitUntil } from './support.js';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, resync: { type: 'string', default: '20' } },
  allowPositionals: true,
});
const sizes = (positionals.length > 0 ? positionals : ['10', '50']).map(Number);
const runs = Number(values.runs);
const resyncSeconds = Number(values.resync);

const env = loadTestEnv();
const kc = new KubeConfig();
kc.loadFromFile(env.kube.kubeconfig);
const kube = new Kube(kc);
const MARKETPLACE = { apiVersion: 'gorten.io/v1alpha1', kind: 'Marketplace' } as const;

interface Sample {
  secondsToReady: number;
  readsPerTenant: number;
  writesPerTenant: number;
  steadyStateWrites: number;
  rssMiB: number;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

function startOperator(selector: string, port: number): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '..', 'operator', 'src', 'main.ts')],
    {
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
    },
  );
}

async function once(n: number, port: number): Promise<Sample> {
  const run = randomBytes(3).toString('hex');
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
    // Let in-flight work settle, then watch one whole resync.
    await sleep(3_000);
    const before =
      (await metric(port, 'gorten_operator_kube_requests_total{verb="write"}')) +
      (await metric(port, 'gorten_operator_dependency_writes_total'));
    const reconcilesBefore = await metric(port, 'gorten_operator_reconcile_total');
    await sleep((resyncSeconds + 5) * 1000);
    const after =
      (await metric(port, 'gorten_operator_kube_requests_total{verb="write"}')) +
      (await metric(port, 'gorten_operator_dependency_writes_total'));
    if ((await metric(port, 'gorten_operator_reconcile_total')) - reconcilesBefore < n)
      throw new Error('the resync did not reconcile every tenant');
    const rss = await metric(port, 'process_resident_memory_bytes');
    return {
      secondsToReady,
      readsPerTenant: reads / n,
      writesPerTenant: writes / n,
      steadyStateWrites: after - before,
      rssMiB: rss / 2 ** 20,
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
console.log(
  `servers: ${Object.entries(env.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}; resync ${resyncSeconds} s; ${runs} run(s) each`,
);
console.log(
  'tenants | s to all Ready | s per tenant | API reads/tenant | API writes/tenant | writes in a steady resync | operator RSS MiB',
);
for (const n of sizes) {
  const samples: Sample[] = [];
  for (let r = 0; r < runs; r++) samples.push(await once(n, await freePort()));
  const m = (f: (s: Sample) => number) => median(samples.map(f));
  console.log(
    [
      n,
      m((s) => s.secondsToReady).toFixed(1),
      (m((s) => s.secondsToReady) / n).toFixed(2),
      m((s) => s.readsPerTenant).toFixed(1),
      m((s) => s.writesPerTenant).toFixed(1),
      m((s) => s.steadyStateWrites),
      m((s) => s.rssMiB).toFixed(0),
    ].join(' | '),
  );
}
kube.close();
