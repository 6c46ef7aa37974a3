// Every call to the payment provider as a CLIENT span `payment_provider <call>`, one per
// attempt (the resilience policy may retry): the provider is the one dependency here that
// answers from outside, so its calls are where time and failures are looked for. Nothing
// about the card or the amount is recorded. A provider that runs in the process but plays
// an external one (the simulated provider) keeps its own work out of our traces, as a
// real provider's would be: its storage is no span of ours.
import { inSpan } from '@gorten/kit';
import { context, SpanKind, trace } from '@opentelemetry/api';
import type { PaymentProvider } from './provider.js';

const tracer = trace.getTracer('@gorten/payments');

type Call = Exclude<keyof PaymentProvider, 'name'>;
const CALLS: readonly Call[] = [
  'tokenize',
  'paymentMethod',
  'paymentMethods',
  'authorize',
  'capture',
  'void',
  'refund',
];

/** `provider` with every call run through `around(name, call)`. */
function eachCall(
  provider: PaymentProvider,
  around: (name: Call, call: () => Promise<unknown>) => Promise<unknown>,
): PaymentProvider {
  const wrapped: Record<string, unknown> = { name: provider.name };
  for (const name of CALLS)
    wrapped[name] = (...args: unknown[]) =>
      around(name, () =>
        (provider[name] as (...a: unknown[]) => Promise<unknown>).apply(provider, args),
      );
  return wrapped as unknown as PaymentProvider;
}

/** `provider` with each call traced. */
export function tracedProvider(provider: PaymentProvider): PaymentProvider {
  const options = {
    kind: SpanKind.CLIENT,
    attributes: { 'gorten.payment_provider': provider.name },
  };
  return eachCall(provider, (name, call) =>
    inSpan(tracer, `payment_provider ${name}`, call, options),
  );
}

/** `provider`, which plays an external system, with no span of ours active in its calls. */
export function asExternal(provider: PaymentProvider): PaymentProvider {
  return eachCall(provider, (_name, call) =>
    context.with(trace.deleteSpan(context.active()), call),
  );
}
