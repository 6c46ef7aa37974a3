// Checkout benchmark: POST /checkout at fixed arrival rates (an open loop — request i
// starts at i / rate s whatever happened to earlier ones, and its latency counts from
// then), each by its own buyer with a one-line cart, against the checkout service in a
// child process and the real FerretDB and RabbitMQ. Reports, per rate, the checkouts per
// second achieved, p50/p95/p99 end to end, failures, and the CPU seconds FerretDB and the
// service spent per checkout — which shows where the knee comes from.
//
//   npx tsx tools/testenv/src/cli.ts exec -- tsx bench/checkout.ts [--quick]
//     [--rates 3,6,10] [--seconds 4] [--runs 1]
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyMetrics, newId } from '@gorten/kit';
import { createPaymentModule } from '@gorten/payments/module';
import { createPaymentMethod } from '@gorten/payments/payments';
import { TestTenant } from '@gorten/service-testing';
import { loadTestEnv } from '@gorten/testenv';
import { Registry } from 'prom-client';
import { cpuSeconds, median, startHttpChild, stopAllChildren } from './support.js';

/** The value after `--name` on the command line, if given. */
function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
function positiveNumbers(name: string, text: string): number[] {
  const values = text.split(',').map(Number);
  if (values.some((v) => !(v > 0))) throw new Error(`--${name}: positive numbers, got ${text}`);
  return values;
}

const QUICK = process.argv.includes('--quick');
const RATES = positiveNumbers('rates', option('rates') ?? (QUICK ? '2,8' : '1,2,4,6,8,12'));
const SECONDS = positiveNumbers('seconds', option('seconds') ?? (QUICK ? '4' : '10'))[0] ?? 10;
const RUNS = positiveNumbers('runs', option('runs') ?? (QUICK ? '1' : '3'))[0] ?? 3;
const CARD = { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' };

interface Run {
  achieved: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
  dbCpuMs: number;
  serviceCpuMs: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** The pid of the test environment's FerretDB, for its CPU time. */
function ferretPid(): number {
  const pid = loadTestEnv().processes.find((p) => p.name === 'ferretdb')?.pid;
  if (!pid) throw new Error('no FerretDB in the test environment');
  return pid;
}

async function main(): Promise<void> {
  const tenant = await TestTenant.create('bench-checkout');
  try {
    const logDir = mkdtempSync(join(tmpdir(), 'gorten-bench-'));
    const service = await startHttpChild(
      'checkout',
      'services/checkout/src/main.ts',
      tenant.serviceEnv('checkout', {
        LOG_LEVEL: 'warn',
        SIMULATED_PROVIDER_DELAY_MS: '0',
        PAYMENT_PROVIDER_TIMEOUT_MS: '10000',
        CHECKOUT_LEASE_MS: '60000',
      }),
      join(logDir, 'checkout.log'),
    );
    const company = await tenant.addCompany();
    const products = Array.from({ length: 20 }, () => newId('prd'));
    const now = new Date();
    await tenant.db.collection('products').insertMany(
      products.map((id, i) => ({
        _id: id as never,
        companyId: company,
        sku: `BENCH-${i}`,
        name: `Bench product ${i}`,
        description: '',
        categoryId: null,
        price: { amount: 1_000 + i, currency: 'EUR' },
        stock: 1_000_000,
        status: 'active',
        lowStockThreshold: 0,
        version: 1,
        createdAt: now,
        updatedAt: now,
      })),
    );
    // Buyers tokenize their card before the clock starts, as in a browser.
    const provider = createPaymentModule(
      tenant.db,
      {
        PAYMENT_PROVIDER: 'simulated',
        PAYMENT_PROVIDER_TIMEOUT_MS: 10_000,
        SIMULATED_PROVIDER_DELAY_MS: 0,
      },
      new DependencyMetrics(new Registry()),
    );
    const buyer = async () => {
      const id = newId('usr');
      return {
        id,
        token: tenant.token({ sub: id, roles: ['buyer'] }, { expiresIn: 3_600 }),
        paymentMethod: (await createPaymentMethod(provider, id, CARD)).id,
      };
    };
    const fillCarts = async (count: number) => {
      const buyers = await Promise.all(Array.from({ length: count }, buyer));
      await tenant.db.collection('carts').insertMany(
        buyers.map((b, i) => ({
          _id: b.id as never,
          items: [{ productId: products[i % products.length], quantity: 1 }],
          lock: null,
          version: 1,
          updatedAt: new Date(),
        })),
      );
      return buyers;
    };

    const oneRun = async (rate: number): Promise<Run> => {
      const buyers = await fillCarts(Math.round(rate * SECONDS));
      const db = ferretPid();
      const [dbBefore, svcBefore] = [cpuSeconds(db), cpuSeconds(service.pid)];
      const latencies: number[] = [];
      const answeredAt: number[] = [];
      let failed = 0;
      const started = performance.now();
      const inFlight: Promise<void>[] = [];
      for (const [i, b] of buyers.entries()) {
        const due = started + (i * 1000) / rate;
        const ahead = due - performance.now();
        if (ahead >= 1) await sleep(ahead);
        inFlight.push(
          fetch(`${service.url}/checkout`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${b.token}`,
              'content-type': 'application/json',
              'idempotency-key': randomUUID(),
            },
            body: JSON.stringify({ paymentMethod: b.paymentMethod }),
          }).then(
            async (answer) => {
              await answer.arrayBuffer();
              const at = performance.now();
              latencies.push(at - due);
              answeredAt.push(at);
              if (answer.status !== 201) failed++;
            },
            () => {
              failed++;
            },
          ),
        );
      }
      await Promise.all(inFlight);
      const sorted = latencies.sort((a, b) => a - b);
      const first = answeredAt.sort((a, b) => a - b)[0] ?? 0;
      const last = answeredAt.at(-1) ?? 0;
      const done = buyers.length - failed;
      return {
        achieved: last > first ? ((answeredAt.length - 1) * 1000) / (last - first) : 0,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        failed,
        dbCpuMs: ((cpuSeconds(db) - dbBefore) * 1000) / Math.max(1, done),
        serviceCpuMs: ((cpuSeconds(service.pid) - svcBefore) * 1000) / Math.max(1, done),
      };
    };

    await oneRun(2); // warm-up: connections, JIT, SQLite pages
    const rows: string[] = [];
    for (const rate of RATES) {
      const runs: Run[] = [];
      for (let r = 0; r < RUNS; r++) {
        runs.push(await oneRun(rate));
        await sleep(1_000); // the outbox relay catches up between runs
      }
      const m = (pick: (run: Run) => number) => median(runs.map(pick));
      rows.push(
        `| ${rate} | ${m((r) => r.achieved).toFixed(1)} | ${m((r) => r.p50).toFixed(0)} | ${m((r) => r.p95).toFixed(0)} | ${m((r) => r.p99).toFixed(0)} | ${m((r) => r.failed)} | ${m((r) => r.dbCpuMs).toFixed(1)} | ${m((r) => r.serviceCpuMs).toFixed(1)} |`,
      );
      process.stderr.write(`${rows.at(-1) ?? ''}\n`); // as it comes: overloaded rates take long
    }
    process.stdout.write(
      [
        `Checkout, ${SECONDS} s per run, median of ${RUNS} runs per rate (2 cores shared by FerretDB, RabbitMQ, the service and the load generator)`,
        '',
        '| offered /s | achieved /s | p50 ms | p95 ms | p99 ms | failed | FerretDB CPU ms per checkout | service CPU ms per checkout |',
        '|---|---|---|---|---|---|---|---|',
        ...rows,
        '',
      ].join('\n'),
    );
  } finally {
    await stopAllChildren();
    await tenant.destroy();
  }
}

await main();
