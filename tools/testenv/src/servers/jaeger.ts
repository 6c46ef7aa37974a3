// Jaeger v2 (built from the Go module proxy): an OpenTelemetry Collector that takes spans
// over OTLP/HTTP and keeps them in memory, a bounded number of traces, and answers
// Jaeger's query API (`/api/traces?service=…`, `/api/traces/<id>`). Every port is on
// loopback; nothing it needs is kept across starts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withFreePorts } from '../ports.js';
import { eventually, startServer } from '../process.js';
import { okBody } from '../http.js';
import type { StartContext } from './context.js';

export interface JaegerAccess {
  /** The OTLP/HTTP base URL: OTEL_EXPORTER_OTLP_ENDPOINT (spans go to /v1/traces). */
  otlpUrl: string;
  /** The query API and the (placeholder) UI. */
  queryUrl: string;
}

/** How many traces the in-memory store keeps (the oldest go first). */
const MAX_TRACES = 20_000;

/** The collector configuration (YAML is a superset of JSON): OTLP in, memory, query out. */
export function jaegerConfig(ports: { otlp: number; query: number; queryGrpc: number }): string {
  const loopback = (port: number) => ({ endpoint: `127.0.0.1:${port}` });
  return JSON.stringify(
    {
      service: {
        extensions: ['jaeger_storage', 'jaeger_query'],
        pipelines: {
          traces: {
            receivers: ['otlp'],
            processors: ['batch'],
            exporters: ['jaeger_storage_exporter'],
          },
        },
        // No metrics endpoint of its own (by default on every interface).
        telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
      },
      extensions: {
        jaeger_storage: { backends: { memstore: { memory: { max_traces: MAX_TRACES } } } },
        jaeger_query: {
          storage: { traces: 'memstore' },
          http: loopback(ports.query),
          grpc: loopback(ports.queryGrpc),
        },
      },
      receivers: { otlp: { protocols: { http: loopback(ports.otlp) } } },
      // A short batch: a test reads what it sent a moment later.
      processors: { batch: { timeout: '200ms' } },
      exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
    },
    null,
    2,
  );
}

export function startJaegerServer(ctx: StartContext): Promise<JaegerAccess> {
  const dir = join(ctx.dataDir, 'jaeger');
  mkdirSync(dir, { recursive: true });
  return withFreePorts(ctx, ['otlp', 'query', 'queryGrpc'], async (ports, ctx) => {
    const configFile = join(dir, 'config.yaml');
    writeFileSync(configFile, jaegerConfig(ports));
    const logFile = join(ctx.logDir, 'jaeger.log');
    const command = ctx.binary('jaeger');
    const pid = startServer({
      name: 'jaeger',
      command,
      args: [`--config=${configFile}`],
      logFile,
      cwd: dir,
    });
    ctx.record({ name: 'jaeger', pid, match: command });
    const access = {
      otlpUrl: `http://127.0.0.1:${ports.otlp}`,
      queryUrl: `http://127.0.0.1:${ports.query}`,
    };
    await eventually({ what: 'Jaeger query API', timeoutMs: 30_000, pid, logFile }, () =>
      okBody(`${access.queryUrl}/api/services`),
    );
    return access;
  });
}
