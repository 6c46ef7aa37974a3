// Which payment status may follow which (pure).
import { conflict } from '@gorten/kit';
import type { PaymentStatus } from './store.js';

const NEXT: Record<PaymentStatus, readonly PaymentStatus[]> = {
  authorizing: ['authorized', 'declined', 'voided'],
  authorized: ['captured', 'voided'],
  declined: [],
  captured: ['partially_refunded', 'refunded'],
  voided: [],
  partially_refunded: ['partially_refunded', 'refunded'],
  refunded: [],
};

export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  return NEXT[from].includes(to);
}

export function assertMove(from: PaymentStatus, to: PaymentStatus): void {
  if (!canMove(from, to)) throw conflict(`A ${from} payment cannot become ${to}.`, { from, to });
}
