import type { QueueTopology } from "../packages/messaging/src/topology";
import { RELAY_SCHEDULE } from "./functions";

/** The scheduled outbox relay (the safety net behind registration's eager publish). */
export function createOutboxRelay(name: string, args: sst.aws.FunctionArgs) {
  return new sst.aws.CronV2(name, { schedule: RELAY_SCHEDULE, function: args });
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
