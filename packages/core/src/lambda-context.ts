import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";

/**
 * A Lambda invocation context for places that invoke real handlers without Lambda: the embedded
 * runtime's SQS event source and the tests. `getRemainingTimeInMillis` counts down from now.
 */
export function createLambdaContext(options: {
  functionName: string;
  timeoutSeconds?: number;
  memoryMb?: number;
}): Context {
  const deadline = Date.now() + (options.timeoutSeconds ?? 30) * 1000;
  const { functionName } = options;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 256),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
