import type { QueueTopology } from "../packages/messaging/src/topology";
import type { ScheduleExpression } from "./functions";

/**
 * A function the deployment table gives a schedule: the outbox relay (the safety net behind
 * registration's eager publish) and the idempotency-key prune.
 */
export function createScheduledFunction(
  name: string,
  schedule: ScheduleExpression,
  args: sst.aws.FunctionArgs,
) {
  return new sst.aws.CronV2(name, { schedule, function: args });
}

/**
 * The wallet provisioner consumes user-events with partial batch responses: only the failed
 * records return to the queue, each with the visibility of its retry tier.
 */
export function subscribeWalletProvisioner(
  queue: sst.aws.Queue,
  topology: QueueTopology,
  args: sst.aws.FunctionArgs,
) {
  return queue.subscribe(args, { batch: { size: topology.batchSize, partialResponses: true } });
}
