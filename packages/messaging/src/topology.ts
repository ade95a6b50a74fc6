import * as z from "zod/mini";

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
  /**
   * The redrive policy's count: the ladder (one first try plus one per tier) plus
   * REDRIVE_HEADROOM receives that SQS counts but the consumer never handled. The consumer itself
   * moves a message to the DLQ right after the last tier; SQS's redrive is only the backstop.
   */
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

/**
 * Receives SQS counts without the consumer's handler running: Lambda throttled, the function
 * timed out or crashed before answering. AWS advises maxReceiveCount of at least 5 for Lambda
 * consumers, i.e. room for four such receives; with the count at exactly the ladder's length,
 * each of them would have cut the ladder short by one tier.
 */
export const REDRIVE_HEADROOM = 4;

const MAX_RECEIVE_COUNT = 1000;

const FOURTEEN_DAYS = 14 * 24 * 3600;
const FOUR_DAYS = 4 * 24 * 3600;

const tiersSchema = z
  .array(z.int().check(z.minimum(0), z.maximum(900)), {
    error: "each retry tier must be an integer from 0 to 900 seconds",
  })
  .check(
    z.minLength(1, { error: "at least one retry tier is required" }),
    z.maxLength(MAX_RECEIVE_COUNT - 1 - REDRIVE_HEADROOM, {
      error: `at most ${MAX_RECEIVE_COUNT - 1 - REDRIVE_HEADROOM} retry tiers (maxReceiveCount is capped at ${MAX_RECEIVE_COUNT})`,
    }),
    z.refine((tiers: number[]) => tiers.every((tier, i) => i === 0 || tier >= (tiers[i - 1] ?? 0)), {
      error: "retry tiers must be in ascending order",
    }),
  );

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
    maxReceiveCount: tiers.data.length + 1 + REDRIVE_HEADROOM,
    consumerTimeoutSeconds,
    visibilityTimeoutSeconds: 6 * consumerTimeoutSeconds,
    messageRetentionSeconds: FOUR_DAYS,
    deadLetterRetentionSeconds: FOURTEEN_DAYS,
    receiveWaitTimeSeconds: 20,
    batchSize,
  };
}

/** Deliveries the ladder allows: the first try and one per tier; the DLQ takes what fails the last. */
export function ladderLength(topology: QueueTopology): number {
  return topology.retryTiersSeconds.length + 1;
}

/**
 * What to do after the given delivery failed transiently: come back after the tier for this
 * attempt, or, once the last tier has been tried, go to the DLQ now (`undefined`). Counted by
 * SQS's ApproximateReceiveCount, so receives the consumer never handled move a message up the
 * ladder too: the ladder may be shorter, but it always ends in the DLQ, never in a loop.
 */
export function retryDelayFor(topology: QueueTopology, approximateReceiveCount: number): number | undefined {
  if (approximateReceiveCount >= ladderLength(topology)) return undefined;
  return topology.retryTiersSeconds[Math.max(0, approximateReceiveCount - 1)];
}
