import { z } from "zod";

/**
 * The user-events queue, its DLQ and the retry ladder, as data. The embedded runtime, the tests,
 * the SST stack and the LocalStack bootstrap all build their queues from this one description,
 * so the invariants below hold everywhere or nowhere.
 */
export interface QueueTopology {
  queueName: string;
  deadLetterQueueName: string;
  /** Delay before the n-th redelivery after a transient failure (n = ApproximateReceiveCount). */
  retryTiersSeconds: readonly number[];
  /** Deliveries before SQS redrives to the DLQ: one first try plus one per tier. */
  maxReceiveCount: number;
  /** The consumer Lambda's timeout; the queue's visibility must cover six of them (AWS guidance). */
  consumerTimeoutSeconds: number;
  visibilityTimeoutSeconds: number;
  messageRetentionSeconds: number;
  deadLetterRetentionSeconds: number;
  receiveWaitTimeSeconds: number;
  /** Messages per consumer invocation. */
  batchSize: number;
}

export const DEFAULT_RETRY_TIERS_SECONDS = [10, 30, 120] as const;

const FOURTEEN_DAYS = 14 * 24 * 3600;
const FOUR_DAYS = 4 * 24 * 3600;

const tiersSchema = z
  .array(z.number().int().min(0).max(900), {
    error: "each retry tier must be an integer from 0 to 900 seconds",
  })
  .min(1, { error: "at least one retry tier is required" })
  .max(999, { error: "at most 999 retry tiers (maxReceiveCount is capped at 1000)" })
  .refine((tiers) => tiers.every((tier, i) => i === 0 || tier >= (tiers[i - 1] ?? 0)), {
    error: "retry tiers must be in ascending order",
  });

export interface TopologyOptions {
  /** Name prefix, e.g. the SST app and stage, so stages never share queues. */
  prefix?: string;
  retryTiersSeconds?: readonly number[];
  consumerTimeoutSeconds?: number;
  batchSize?: number;
}

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TopologyError";
  }
}

/** Parses `10,30,120` (the RETRY_TIERS_SECONDS form) into validated tiers. */
export function parseRetryTiers(text: string): number[] {
  const parts = text.split(",").map((part) => part.trim());
  const numbers = parts.map((part) => (/^\d+$/.test(part) ? Number(part) : Number.NaN));
  const result = tiersSchema.safeParse(numbers);
  if (!result.success || numbers.some(Number.isNaN)) {
    throw new TopologyError(
      `expected comma-separated ascending integers from 0 to 900 (seconds), e.g. 10,30,120; ${
        result.success ? "found a non-integer" : (result.error.issues[0]?.message ?? "invalid")
      }`,
    );
  }
  return result.data;
}

export function buildTopology(options: TopologyOptions = {}): QueueTopology {
  const tiers = tiersSchema.safeParse([...(options.retryTiersSeconds ?? DEFAULT_RETRY_TIERS_SECONDS)]);
  if (!tiers.success) throw new TopologyError(tiers.error.issues[0]?.message ?? "invalid retry tiers");
  const consumerTimeoutSeconds = options.consumerTimeoutSeconds ?? 30;
  if (
    !Number.isInteger(consumerTimeoutSeconds) ||
    consumerTimeoutSeconds < 1 ||
    consumerTimeoutSeconds > 900
  ) {
    throw new TopologyError("consumer timeout must be an integer from 1 to 900 seconds");
  }
  const batchSize = options.batchSize ?? 10;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new TopologyError("batch size must be an integer from 1 to 10");
  }
  const prefix = options.prefix ? `${options.prefix}-` : "";
  return {
    queueName: `${prefix}user-events`,
    deadLetterQueueName: `${prefix}user-events-dlq`,
    retryTiersSeconds: tiers.data,
    maxReceiveCount: tiers.data.length + 1,
    consumerTimeoutSeconds,
    visibilityTimeoutSeconds: 6 * consumerTimeoutSeconds,
    messageRetentionSeconds: FOUR_DAYS,
    deadLetterRetentionSeconds: FOURTEEN_DAYS,
    receiveWaitTimeSeconds: 20,
    batchSize,
  };
}

/**
 * Visibility to set after the given delivery fails transiently: the tier for this attempt, or
 * 0 on the last allowed delivery so SQS redrives the message to the DLQ at once.
 */
export function retryDelayFor(topology: QueueTopology, approximateReceiveCount: number): number {
  if (approximateReceiveCount >= topology.maxReceiveCount) return 0;
  const index = Math.max(0, approximateReceiveCount - 1);
  return topology.retryTiersSeconds[index] ?? topology.retryTiersSeconds.at(-1) ?? 0;
}
