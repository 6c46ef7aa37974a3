// A Jaeger of a test's own, for the tests that look at traces: it starts in well under a
// second and holds ~50 MB, so each such test file starts one rather than sharing one —
// nobody else's spans in its answers, and a test may stop it to see the services go on
// without it. The shared environment runs none (npm start does: environment.ts). Also
// how tests read Jaeger's query API.
import { okBody } from './http.js';
import { privateServers } from './private-servers.js';
import { startJaegerServer, type JaegerAccess } from './servers/jaeger.js';

/** A span as Jaeger's query API answers it (the fields tests read). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; traceID: string; spanID: string }[];
  tags: { key: string; type: string; value: unknown }[];
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** Reads Jaeger's query API (the JSON API behind its UI). */
export class JaegerQuery {
  constructor(readonly queryUrl: string) {}

  private async data<T>(path: string): Promise<T> {
    const body = (await okBody(`${this.queryUrl}${path}`)) ?? '{}';
    return (JSON.parse(body) as { data: T }).data;
  }

  /** The services that sent spans. */
  async services(): Promise<string[]> {
    return (await this.data<string[] | null>('/api/services')) ?? [];
  }

  /**
   * The traces with a span of `service` (the last hour, up to 100), or only those with a
   * span of it carrying every one of `tags`.
   */
  async traces(service: string, tags: Record<string, string> = {}): Promise<JaegerTrace[]> {
    const query = new URLSearchParams({ service, lookback: '1h', limit: '100' });
    if (Object.keys(tags).length > 0) query.set('tags', JSON.stringify(tags));
    return (await this.data<JaegerTrace[] | null>(`/api/traces?${query.toString()}`)) ?? [];
  }

  async trace(traceId: string): Promise<JaegerTrace | undefined> {
    return (await this.data<JaegerTrace[] | null>(`/api/traces/${traceId}`))?.[0];
  }
}

/** The service that sent a span of the trace. */
export function serviceOf(t: JaegerTrace, span: JaegerSpan): string | undefined {
  return t.processes[span.processID]?.serviceName;
}

export interface Jaeger extends JaegerAccess {
  query: JaegerQuery;
  logDir: string;
  /** Stops it and removes its folder; idempotent. */
  stop(): Promise<void>;
}

export async function startJaeger(): Promise<Jaeger> {
  const { ctx, logDir, stop } = privateServers('jaeger', ['jaeger']);
  try {
    const access = await startJaegerServer(ctx);
    return { ...access, query: new JaegerQuery(access.queryUrl), logDir, stop: () => stop() };
  } catch (err) {
    await stop();
    throw err;
  }
}
