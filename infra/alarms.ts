import type { AlarmSpec } from "./functions";

/**
 * The alarms of the deployment table (`describeAlarms` in infra/functions.ts), publishing to one
 * SNS topic (subscribe an email or a pager to it), on alarm and when back to OK.
 */
export function createAlarms(alarms: readonly AlarmSpec[]) {
  const topic = new sst.aws.SnsTopic("Alarms");
  for (const alarm of alarms) {
    new aws.cloudwatch.MetricAlarm(alarm.name, {
      alarmDescription: alarm.description,
      namespace: alarm.namespace,
      metricName: alarm.metricName,
      dimensions: { ...alarm.dimensions },
      statistic: alarm.statistic,
      period: alarm.periodSeconds,
      evaluationPeriods: alarm.evaluationPeriods,
      threshold: alarm.threshold,
      comparisonOperator: alarm.comparison,
      treatMissingData: alarm.missingData,
      alarmActions: [topic.arn],
      okActions: [topic.arn],
    });
  }
  return topic;
}
