// What a payment provider does for us, whichever it is. Card details reach the provider
// alone, as with a real provider's browser form: it tokenizes them into a payment method
// of one buyer (`pm_…`), and everything after that — authorizing included — names the
// method, never the card. Every money call is idempotent on the provider's side
// (authorization by key, capture and refund by reference and key), so a call whose
// answer was lost may be repeated, and an authorization whose outcome is unknown can be
// voided by its key. A provider that says no to a call (a capture above the
// authorization, a refund of nothing) throws ProviderRefusal: an answer, which the
// resilience policy neither retries nor counts against the provider.
import { DependencyRefusal } from '@gorten/kit';

export class ProviderRefusal extends DependencyRefusal {
  override name = 'ProviderRefusal';
}

/** What a buyer types in: only the tokenization endpoint ever sees it. */
export interface CardDetails {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
}

/** A tokenized card of one buyer, as the provider shows it: never the number or CVC. */
export interface PaymentMethod {
  /** `pm_…` */
  id: string;
  /** The buyer it was made for: no one else may pay with it. */
  customer: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface AuthorizeRequest {
  idempotencyKey: string;
  /** Our reference for what is paid (the checkout); providers show it in disputes. */
  merchantReference: string;
  amount: number;
  currency: string;
  paymentMethod: string;
  /** The buyer paying; the provider refuses a method that is not theirs. */
  customer: string;
}

export type DeclineCode =
  'card_declined' | 'insufficient_funds' | 'unknown_test_card' | 'unknown_payment_method';

export type AuthorizationOutcome =
  | { status: 'authorized'; reference: string }
  | { status: 'declined'; code: DeclineCode; message: string };

export interface PaymentProvider {
  readonly name: string;
  /** Keeps the card in the provider's vault and names it by a new payment method. */
  tokenize(card: CardDetails, customer: string, signal: AbortSignal): Promise<PaymentMethod>;
  /** The method `id` if it is `customer`'s; undefined for any other (or none). */
  paymentMethod(
    id: string,
    customer: string,
    signal: AbortSignal,
  ): Promise<PaymentMethod | undefined>;
  /** `customer`'s methods, newest first (at most `limit`). */
  paymentMethods(customer: string, limit: number, signal: AbortSignal): Promise<PaymentMethod[]>;
  authorize(request: AuthorizeRequest, signal: AbortSignal): Promise<AuthorizationOutcome>;
  capture(reference: string, amount: number, signal: AbortSignal): Promise<void>;
  /**
   * Cancels the authorization made with `idempotencyKey`, if the provider has one; an
   * authorization already captured cannot be: `captured` says so (its money is refunded).
   */
  void(idempotencyKey: string, signal: AbortSignal): Promise<'voided' | 'not_found' | 'captured'>;
  refund(reference: string, amount: number, refundKey: string, signal: AbortSignal): Promise<void>;
}

/** The card's brand from its number (for display; never the number itself). */
export function cardBrand(number: string): string {
  if (number.startsWith('4')) return 'visa';
  // Mastercard: 51–55, and 2221–2720 (2200–2204 is Mir; the rest of 22–27 is no one's).
  const four = Number(number.slice(0, 4));
  if (/^5[1-5]/.test(number) || (four >= 2221 && four <= 2720)) return 'mastercard';
  if (/^3[47]/.test(number)) return 'amex';
  return 'card';
}

/** Luhn checksum: catches mistyped numbers before any provider sees them. */
export function luhnValid(number: string): boolean {
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let digit = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return number.length >= 12 && sum % 10 === 0;
}

/** A card is good through the last day of its expiry month (UTC). */
export function cardExpired(expMonth: number, expYear: number, now: Date): boolean {
  return expYear * 12 + expMonth < now.getUTCFullYear() * 12 + now.getUTCMonth() + 1;
}
