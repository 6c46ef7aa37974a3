// Every call to the payment provider as a CLIENT span `payment_provider <call>`, one per
// attempt (the resilience policy may retry): the provider is the one dependency here that
// answers from outside, so its calls are where time and failures are looked for. Nothing
// about the card or the amount is recorded.
import { inSpan } from '@gorten/kit';
import { SpanKind, trace } from '@opentelemetry/api';
import type { PaymentProvider } from './provider.js';

const tracer = trace.getTracer('@gorten/payments');

type Call = Exclude<keyof PaymentProvider, 'name'>;

/** `provider` with each call traced. */
export function tracedProvider(provider: PaymentProvider): PaymentProvider {
  const options = {
    kind: SpanKind.CLIENT,
    attributes: { 'gorten.payment_provider': provider.name },
  };
  const call =
    <K extends Call>(name: K) =>
    (...args: Parameters<PaymentProvider[K]>): ReturnType<PaymentProvider[K]> =>
      inSpan(
        tracer,
        `payment_provider ${name}`,
        () => (provider[name] as (...a: unknown[]) => Promise<unknown>).apply(provider, args),
        options,
      ) as ReturnType<PaymentProvider[K]>;
  return {
    name: provider.name,
    tokenize: call('tokenize'),
    paymentMethod: call('paymentMethod'),
    paymentMethods: call('paymentMethods'),
    authorize: call('authorize'),
    capture: call('capture'),
    void: call('void'),
    refund: call('refund'),
  };
}
