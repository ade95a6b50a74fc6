import type { QueueTopology } from "../packages/messaging/src/topology";
import { oldestMessageAlarmSeconds } from "./functions";

/**
 * Alarms publish to one SNS topic (subscribe an email or a pager to it). SQS stops emitting
 * metrics for an idle queue, so missing data counts as healthy.
 */
export function createAlarms(
  topology: QueueTopology,
  queues: { queue: sst.aws.Queue; deadLetter: sst.aws.Queue },
) {
  const topic = new sst.aws.SnsTopic("Alarms");
  const actions = { alarmActions: [topic.arn], okActions: [topic.arn], treatMissingData: "notBreaching" };
  new aws.cloudwatch.MetricAlarm("UserEventsDlqNotEmpty", {
    alarmDescription: `Messages in ${topology.deadLetterQueueName}: inspect them (npm run dlq -- list) and redrive them (npm run dlq -- redrive).`,
    namespace: "AWS/SQS",
    metricName: "ApproximateNumberOfMessagesVisible",
    dimensions: { QueueName: queues.deadLetter.nodes.queue.name },
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: "GreaterThanThreshold",
    ...actions,
  });
  new aws.cloudwatch.MetricAlarm("UserEventsOldestMessage", {
    alarmDescription: `The oldest message in ${topology.queueName} outlived its whole retry ladder: the consumer is stuck or failing.`,
    namespace: "AWS/SQS",
    metricName: "ApproximateAgeOfOldestMessage",
    dimensions: { QueueName: queues.queue.nodes.queue.name },
    statistic: "Maximum",
    period: 60,
    evaluationPeriods: 3,
    threshold: oldestMessageAlarmSeconds(topology),
    comparisonOperator: "GreaterThanThreshold",
    ...actions,
  });
  return topic;
}
