// The SDK's own in-memory exporter behind the global tracer for one test file: what the
// operator's spans (made through @opentelemetry/api only) look like once an SDK is
// registered. AsyncLocalStorage carries the active span, so children parent correctly.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';

/** Registers the exporter for the file's tests (beforeAll) and removes it (afterAll). */
export function captureSpans(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  return exporter;
}

/** The spans whose parent is `parent`. */
export function childrenOf(spans: readonly ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  const { spanId } = parent.spanContext();
  return spans.filter((s) => s.parentSpanContext?.spanId === spanId);
}
