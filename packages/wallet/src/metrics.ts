import { counter } from "@platform/core/metrics";

export const POSTINGS = counter(
  "Postings",
  "Credits, debits and transfers answered, by type and outcome: created, replayed, or the refusal's code in lower case (insufficient_funds, idempotency_key_reused, wallet_provisioning, ...); error for an unexpected failure.",
  ["type", "outcome"],
);

export const IDEMPOTENCY_KEYS_PRUNED = counter(
  "IdempotencyKeysPruned",
  "Idempotency keys forgotten after IDEMPOTENCY_RETENTION_DAYS (their ledger entries stay).",
);

export const WALLET_METRICS = [POSTINGS, IDEMPOTENCY_KEYS_PRUNED];
