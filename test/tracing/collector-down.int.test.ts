// With Jaeger gone, a service serves on: its spans are dropped and counted in
// gorten_trace_spans_dropped_total — export_failed for the batches the exporter could not
// send, queue_full for those that found the export queue full — and the queue never holds
// more than OTEL_BSP_MAX_QUEUE_SIZE, however many requests come while it is away.
import { catalogService } from '@gorten/catalog';
import type { RunningService } from '@gorten/kit';
import { client, startTestService, TestTenant } from '@gorten/service-testing';
import { eventually, startJaeger, type Jaeger } from '@gorten/testenv';

const MAX_QUEUE = 20;
let jaeger: Jaeger;
let tenant: TestTenant;
let catalog: RunningService<unknown>;
const started: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  jaeger = await startJaeger();
  started.push(() => jaeger.stop());
  tenant = await TestTenant.create('untraced');
  started.push(() => tenant.destroy());
  catalog = await startTestService(catalogService, tenant, 'catalog', {
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_BSP_MAX_QUEUE_SIZE: String(MAX_QUEUE),
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '5',
    OTEL_EXPORTER_OTLP_TIMEOUT: '500',
  });
  started.push(() => catalog.close());
}, 120_000);

afterAll(async () => {
  for (const stop of started.reverse()) await stop();
}, 60_000);

/** gorten_trace_spans_dropped_total by reason, from the service's /metrics. */
async function dropped(): Promise<Record<'queue_full' | 'export_failed', number>> {
  const text = await (await fetch(`${catalog.url}/metrics`)).text();
  const value = (reason: string) =>
    Number(
      new RegExp(
        `^gorten_trace_spans_dropped_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`,
        'm',
      ).exec(text)?.[1] ?? NaN,
    );
  return { queue_full: value('queue_full'), export_failed: value('export_failed') };
}

test('with Jaeger stopped the service keeps answering, and counts the spans it drops in a bounded queue', async () => {
  const api = client(catalog.url);
  expect((await api('GET', '/products?limit=5')).status).toBe(200);
  await eventually({ what: 'the first request in Jaeger', timeoutMs: 30_000 }, async () =>
    (await jaeger.query.traces('catalog')).length > 0 ? true : undefined,
  );
  expect(await dropped()).toEqual({ queue_full: 0, export_failed: 0 });

  await jaeger.stop();
  // Bursts: many spans end at once, more than the queue takes while exports fail.
  for (let round = 0; round < 6; round++) {
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => api('GET', '/products?limit=5')),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    expect(catalog.tracing.queued()).toBeLessThanOrEqual(MAX_QUEUE);
  }
  const after = await eventually(
    { what: 'both kinds of drop counted', timeoutMs: 30_000 },
    async () => {
      const counts = await dropped();
      return counts.queue_full > 0 && counts.export_failed > 0 ? counts : undefined;
    },
  );
  expect(after.queue_full + after.export_failed).toBeGreaterThan(MAX_QUEUE);
  expect((await api('GET', '/products?limit=1')).status).toBe(200);
});
