import { parseArgs } from "node:util";
import { GetQueueUrlCommand } from "@aws-sdk/client-sqs";
import { ConfigError, type Env, isRunningOnAws } from "@platform/core";
import { loadMessagingConfig, requireDeadLetterQueueUrl } from "../config";
import { countDeadLetters, listDeadLetters, redriveDeadLetters } from "../dlq";
import { createSqsClient } from "../sqs";
import { buildTopology } from "../topology";

const USAGE = `Usage: npm run dlq -- <command> [options]

Commands:
  list      Show the dead letters (not consumed: they are released after reading): reason,
            receives on the main queue, first receive, event, signing key id, correlation id
              --limit N   at most N messages (default 100)
              --json      one JSON object per line instead of a table
  redrive   Move the dead letters back to the user-events queue
              --max N     at most N messages (manual mode only)
              --manual    receive/send/delete even where StartMessageMoveTask exists

Queues: USER_EVENTS_QUEUE_URL and USER_EVENTS_DLQ_URL (with SQS_ENDPOINT for an emulator).
Without them (and outside AWS) the queues of the embedded runtime (npm start) on SQS_PORT
(default 9324) are used.`;

/**
 * The embedded runtime's queues, so `npm run dlq -- list` works next to `npm start` as is. The
 * emulator names its queue URLs itself, so they are looked up by name rather than guessed.
 */
async function withLocalDefaults(source: Env): Promise<Env> {
  if (source.USER_EVENTS_QUEUE_URL || isRunningOnAws(source)) return source;
  const endpoint = source.SQS_ENDPOINT ?? `http://127.0.0.1:${source.SQS_PORT ?? "9324"}`;
  const topology = buildTopology();
  const sqs = createSqsClient({ region: source.AWS_REGION ?? "us-east-1", sqsEndpoint: endpoint });
  try {
    const urlOf = async (name: string) => {
      try {
        return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      } catch (error) {
        throw new Error(
          `no queue ${name} at ${endpoint} (is npm start running? or set USER_EVENTS_QUEUE_URL): ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    };
    return {
      ...source,
      SQS_ENDPOINT: endpoint,
      USER_EVENTS_QUEUE_URL: await urlOf(topology.queueName),
      USER_EVENTS_DLQ_URL: source.USER_EVENTS_DLQ_URL ?? (await urlOf(topology.deadLetterQueueName)),
    };
  } finally {
    sqs.destroy();
  }
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} expects a positive integer`);
  return Number(value);
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      limit: { type: "string" },
      max: { type: "string" },
      json: { type: "boolean", default: false },
      manual: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const command = positionals[0];
  if (values.help || (command !== "list" && command !== "redrive")) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 64; // EX_USAGE
  }
  const config = loadMessagingConfig(await withLocalDefaults(process.env));
  const deadLetterQueueUrl = requireDeadLetterQueueUrl(config, "npm run dlq");
  const sqs = createSqsClient(config);
  try {
    if (command === "list") {
      const limit = positiveInteger(values.limit, "limit") ?? 100;
      const [total, letters] = await Promise.all([
        countDeadLetters(sqs, deadLetterQueueUrl),
        listDeadLetters(sqs, deadLetterQueueUrl, { limit }),
      ]);
      if (values.json) {
        for (const letter of letters) process.stdout.write(`${JSON.stringify(letter)}\n`);
        return 0;
      }
      process.stdout.write(`${deadLetterQueueUrl}: about ${total} message(s); showing ${letters.length}\n`);
      for (const letter of letters) {
        process.stdout.write(
          `${[
            `- message ${letter.messageId}  receives ${letter.receiveCount ?? "?"}  first received ${letter.firstReceivedAt ?? "?"}  sent ${letter.sentAt ?? "?"}`,
            `  event ${letter.eventId ?? "?"} (${letter.eventType ?? "unknown type"})  key ${letter.keyId ?? "-"}  correlation ${letter.correlationId ?? "-"}`,
            `  reason ${letter.reason}`,
            `  body ${letter.body}`,
          ].join("\n")}\n`,
        );
      }
      return 0;
    }
    const max = positiveInteger(values.max, "max");
    const result = await redriveDeadLetters(sqs, {
      queueUrl: config.queueUrl,
      deadLetterQueueUrl,
      ...(max !== undefined ? { max } : {}),
      mode: values.manual || max !== undefined ? "manual" : "auto",
    });
    process.stdout.write(
      result.mode === "move-task"
        ? `Started an SQS message move task (${result.taskHandle}); SQS moves the messages back.\n`
        : `Moved ${result.moved} message(s) back to ${config.queueUrl}${result.failed ? `; ${result.failed} failed and stay in the DLQ` : ""}.\n`,
    );
    return result.mode === "manual" && result.failed > 0 ? 1 : 0;
  } finally {
    sqs.destroy();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 78; // EX_CONFIG
  } else {
    process.stderr.write(
      `dlq: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`,
    );
    process.exitCode = 1;
  }
}
