// The payments service's collections: payment intents, the idempotency records of its
// HTTP operations, and the simulated provider's vault and ledger (the provider's, not ours).
import type { CollectionIndexes, IdempotencyRecord } from '@gorten/kit';
import type { Collection, Db } from 'mongodb';
import type { SimulatedLedgerEntry, SimulatedVaultEntry } from './simulated-provider.js';

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
  /** `paymentIdFor(authorizationKey)`: the key finds its payment by `_id`. */
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
  vault: Collection<SimulatedVaultEntry>;
}

export function paymentsStore(db: Db): PaymentsStore {
  return {
    payments: db.collection('payments'),
    requests: db.collection('payment_requests'),
    ledger: db.collection('simulated_provider_ledger'),
    vault: db.collection('simulated_provider_vault'),
  };
}

export const PAYMENTS_INDEXES: CollectionIndexes[] = [
  {
    collection: 'payments',
    // Ids come from the authorization keys, so they say nothing of age: lists sort by
    // createdAt (then _id).
    indexes: [
      { key: { authorizationKey: 1 }, name: 'authorization_key_unique', unique: true },
      { key: { orderId: 1 }, name: 'order' },
      { key: { buyerId: 1, createdAt: -1, _id: -1 }, name: 'buyer_created' },
      { key: { createdAt: -1, _id: -1 }, name: 'created' },
    ],
  },
  {
    collection: 'simulated_provider_ledger',
    // Entries are found by `_id` (the key, which the reference carries); the merchant
    // reference only for the slow test card.
    indexes: [{ key: { merchantReference: 1 }, name: 'merchant_reference' }],
  },
];
