// What tracing itself costs per checkout, without the database: the spans of one checkout
// (a SERVER span, one around the work, 47 MongoDB operations through the kit's traced
// database: 49, a checkout has 60) made and exported over OTLP to a real Jaeger, against
// the same calls untraced.
// The collection answers at once (no server behind it), so the CPU measured is tracing's
// own: the SDK, the OTLP encoding, the export's HTTP and the kit's wrappers. Paced (20
// checkouts, then 25 ms) so export batches go out between them as in a service.
//
//   npm run bench:span-cost -- [--rounds 6] [--checkouts 400] [--sampler always_off]
//
// --sampler always_off: tracing on but nothing sampled — what the kit's wrappers cost alone.
//   (or `node --cpu-prof --import tsx bench/span-cost.ts`, for profile-summary.ts)
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { context, ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import { inSpan, startTracing } from '@gorten/kit';
import { tracedDb } from '@gorten/kit/mongo-tracing';
import { startJaeger } from '@gorten/testenv';
import type { Db } from 'mongodb';
import { median } from './support.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    checkouts: { type: 'string', default: '400' },
    sampler: { type: 'string', default: 'always_on' },
  },
});
const ROUNDS = Number(values.rounds);
const CHECKOUTS = Number(values.checkouts);
if (!(ROUNDS > 0 && CHECKOUTS > 0)) throw new Error('--rounds and --checkouts: positive numbers');

/** A cursor and a collection that answer at once: only the tracing around them costs. */
class InstantCursor {
  sort(): this {
    return this;
  }
  limit(): this {
    return this;
  }
  toArray(): Promise<unknown[]> {
    return Promise.resolve([]);
  }
}
const instant = {
  findOne: () => Promise.resolve(null),
  updateOne: () => Promise.resolve({ modifiedCount: 1 }),
  find: () => new InstantCursor(),
};
type Things = typeof instant;

const jaeger = await startJaeger();
const tracing = startTracing({
  service: 'span-cost',
  env: { OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl, OTEL_TRACES_SAMPLER: values.sampler },
});
try {
  const instantDb = { databaseName: 'mp_bench', collection: () => instant } as unknown as Db;
  const things = tracedDb(instantDb, tracing, { host: '127.0.0.1', port: 27017 }).collection(
    'things',
  ) as unknown as Things;

  const steps = async (c: Things) => {
    for (let step = 0; step < 19; step++) {
      await c.findOne();
      await c.updateOne();
      if (step % 2) await c.find().sort().limit().toArray();
    }
  };
  const traced = async () => {
    const request = tracing.tracer.startSpan(
      'POST /checkout',
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'POST', 'url.path': '/checkout' },
      },
      tracing.bind(ROOT_CONTEXT),
    );
    const { tracer } = tracing;
    await context.with(tracing.bind(ROOT_CONTEXT), () =>
      inSpan(tracer, 'checkout', () => steps(things)),
    );
    request.end();
  };
  const untraced = () => steps(instant);

  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const paced = async (checkout: () => Promise<void>) => {
    const before = cpuMs();
    for (let i = 0; i < CHECKOUTS; i++) {
      await checkout();
      if (i % 20 === 19) await sleep(25);
    }
    return (cpuMs() - before) / CHECKOUTS;
  };
  await paced(traced); // warm-up: JIT, the exporter's connection
  const on: number[] = [];
  const off: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    on.push(await paced(traced));
    off.push(await paced(untraced));
  }
  const spans = 2 + 19 * 2 + 9;
  process.stdout.write(
    `Tracing's own CPU per checkout of ${spans} spans, ${values.sampler} (median of ${ROUNDS} rounds of ${CHECKOUTS}): ` +
      `${(median(on) - median(off)).toFixed(3)} ms traced (${median(on).toFixed(3)} − ${median(off).toFixed(3)} untraced), ` +
      `${((1000 * (median(on) - median(off))) / spans).toFixed(1)} µs a span\n`,
  );
} finally {
  await tracing.shutdown();
  await jaeger.stop();
}
