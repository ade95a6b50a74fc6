/**
 * Events shaped exactly as LocalStack 4.x hands them to a function, read from its source:
 * - function URLs: `event_for_lambda_url` (services/lambda_/urlrouter.py);
 * - SQS: `transform_into_events` and the JSON round trip in `SqsPoller.handle_messages`
 *   (services/lambda_/event_source_mapping/pollers/sqs_poller.py);
 * - a scheduled rule: EventBridge's "Scheduled Event".
 */
import { randomUUID } from "node:crypto";
import type { Message } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2, ScheduledEvent, SQSEvent } from "aws-lambda";
import { reencodeLikePython } from "../../../test/support/python-json";

export interface UrlRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A function URL invocation; LocalStack's URLs look like <id>.lambda-url.<region>.localhost.localstack.cloud. */
export function functionUrlEvent(urlId: string, request: UrlRequest): APIGatewayProxyEventV2 {
  const now = new Date();
  const query = new URLSearchParams(request.query ?? {});
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const host = `${urlId}.lambda-url.us-east-1.localhost.localstack.cloud:4566`;
  const headers: Record<string, string> = {
    host,
    "user-agent": "node",
    accept: "*/*",
    ...(body === undefined
      ? {}
      : { "content-type": "application/json", "content-length": String(body.length) }),
    ...Object.fromEntries(
      Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    ),
    // LocalStack adds these to every function URL event.
    "x-amzn-tls-cipher-suite": "ECDHE-RSA-AES128-GCM-SHA256",
    "x-amzn-tls-version": "TLSv1.2",
    "x-forwarded-proto": "http",
    "x-forwarded-for": "172.17.0.1",
    "x-forwarded-port": "4566",
  };
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: request.path,
    rawQueryString: query.toString(),
    headers,
    // Always present, empty when there is no query string.
    queryStringParameters: Object.fromEntries(query),
    requestContext: {
      accountId: "anonymous",
      apiId: urlId,
      domainName: host,
      domainPrefix: urlId,
      http: {
        method: request.method,
        path: request.path,
        protocol: "HTTP/1.1",
        sourceIp: "172.17.0.1",
        userAgent: "node",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    // A JSON body is text: not base64; no body at all when the request has none.
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: false,
  };
}

/**
 * What LocalStack's SQS event source passes on for received messages: attribute keys with a lower-case
 * first letter, and every body that parses as JSON dumped again by Python's json.dumps.
 */
export function localStackSqsEvent(messages: Message[], queueArn: string, region = "us-east-1"): SQSEvent {
  return {
    Records: messages.map((message) => {
      const body = message.Body ?? "";
      let delivered = body;
      try {
        delivered = reencodeLikePython(body);
      } catch {
        // Not JSON: passed on as it came.
      }
      return {
        messageId: message.MessageId ?? "",
        receiptHandle: message.ReceiptHandle ?? "",
        body: delivered,
        attributes: { ...message.Attributes } as SQSEvent["Records"][number]["attributes"],
        messageAttributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            { stringValue: value.StringValue, dataType: value.DataType ?? "String" },
          ]),
        ) as SQSEvent["Records"][number]["messageAttributes"],
        md5OfBody: message.MD5OfBody ?? "",
        ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: region,
      };
    }),
  };
}

/** What an EventBridge rule with a schedule expression sends its target. */
export function scheduledRuleEvent(ruleArn: string): ScheduledEvent {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [ruleArn],
    detail: {},
  };
}
