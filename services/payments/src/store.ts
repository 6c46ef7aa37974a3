// The payments service's collections: payment intents, the idempotency records of its
// HTTP operations, and the simulated provider's ledger (the provider's, not ours).
import type { CollectionIndexes, IdempotencyRecord } from '@gorten/kit';
import type { Collection, Db } from 'mongodb';
import type { SimulatedLedgerEntry } from './simulated-provider.js';

export const PAYMENT_STATUSES = [
  'authorizing',
  'authorized',
  'declined',
  'captured',
  'voided',
  'partially_refunded',
  'refunded',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export interface PaymentDoc {
  _id: string;
  /** The key the authorization was asked for with: one payment per key. */
  authorizationKey: string;
  orderId: string;
  buyerId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  provider: string;
  providerReference?: string;
  /** Never the number: brand and last four digits only. */
  card: { brand: string; last4: string };
  declineCode?: string;
  captured: number;
  refunded: number;
  refunds: { key: string; amount: number; reason: string; at: Date }[];
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface PaymentsStore {
  payments: Collection<PaymentDoc>;
  requests: Collection<IdempotencyRecord<{ status: number; body: unknown }>>;
  ledger: Collection<SimulatedLedgerEntry>;
}

export function paymentsStore(db: Db): PaymentsStore {
  return {
    payments: db.collection('payments'),
    requests: db.collection('payment_requests'),
    ledger: db.collection('simulated_provider_ledger'),
  };
}

export const PAYMENTS_INDEXES: CollectionIndexes[] = [
  {
    collection: 'payments',
    indexes: [
      { key: { authorizationKey: 1 }, name: 'authorization_key_unique', unique: true },
      { key: { orderId: 1 }, name: 'order' },
      { key: { buyerId: 1, _id: -1 }, name: 'buyer_newest' },
    ],
  },
  {
    collection: 'simulated_provider_ledger',
    indexes: [
      { key: { reference: 1 }, name: 'reference' },
      { key: { merchantReference: 1 }, name: 'merchant_reference' },
    ],
  },
];
