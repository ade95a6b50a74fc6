import type { QueueTopology } from "../packages/messaging/src/topology";
import { QUEUE_LINK_ACTIONS } from "./functions";

/**
 * The user-events queue and its DLQ, every setting taken from the shared topology. Functions link
 * to `UserEvents` / `UserEventsDlq`: linkables granting only `sqs:SendMessage` on their queue,
 * where linking the queue component itself would grant `sqs:*`.
 */
export function createQueues(topology: QueueTopology) {
  const deadLetter = new sst.aws.Queue("UserEventsDeadLetterQueue", {
    transform: {
      queue: (args) => {
        args.name = topology.deadLetterQueueName;
        args.messageRetentionSeconds = topology.deadLetterRetentionSeconds;
      },
    },
  });
  const queue = new sst.aws.Queue("UserEventsQueue", {
    visibilityTimeout: `${topology.visibilityTimeoutSeconds} seconds`,
    // SST writes `retry` as the redrive policy's maxReceiveCount.
    dlq: { queue: deadLetter.arn, retry: topology.maxReceiveCount },
    transform: {
      queue: (args) => {
        args.name = topology.queueName;
        args.messageRetentionSeconds = topology.messageRetentionSeconds;
        args.receiveWaitTimeSeconds = topology.receiveWaitTimeSeconds;
      },
    },
  });
  const sendOnly = (name: keyof typeof QUEUE_LINK_ACTIONS, target: sst.aws.Queue) =>
    new sst.Linkable(name, {
      properties: { url: target.url },
      include: [sst.aws.permission({ actions: [...QUEUE_LINK_ACTIONS[name]], resources: [target.arn] })],
    });
  return {
    queue,
    deadLetter,
    links: {
      UserEvents: sendOnly("UserEvents", queue),
      UserEventsDlq: sendOnly("UserEventsDlq", deadLetter),
    },
  };
}
