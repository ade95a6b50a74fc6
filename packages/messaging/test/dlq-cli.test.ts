import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { useTestQueues } from "../../../test/support/sqs";
import { EventAttribute, REDRIVEN_BY_SQS_REASON, stringAttribute } from "../src/index";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");
const tsx = path.join(root, "node_modules/.bin/tsx");
const cli = path.join(root, "packages/messaging/src/cli/dlq.ts");

const queues = useTestQueues();

/** Runs `npm run dlq -- ...` as an operator would, against the emulator found by SQS_PORT. */
async function dlq(...args: string[]) {
  const port = new URL(queues.endpoint).port;
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, SQS_PORT: port, LOG_LEVEL: "silent" };
  return run(tsx, [cli, ...args], { cwd: root, env, timeout: 20_000 }).catch(
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      stdout: error.stdout ?? "",
      stderr: error.stderr ?? "",
      code: error.code,
    }),
  );
}

describe("npm run dlq", () => {
  it("lists dead letters with their reason, receives and first receive, and redrives them", async () => {
    // As the consumer dead-letters a message after its last retry tier.
    await queues.sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.dlqUrl,
        MessageBody: '{"id":"e1"}',
        MessageAttributes: {
          [EventAttribute.eventId]: stringAttribute("e1"),
          [EventAttribute.keyId]: stringAttribute("k0123456789abcdef"),
          [EventAttribute.correlationId]: stringAttribute("req-9"),
          [EventAttribute.dlqReason]: stringAttribute("retries exhausted after 4 attempts: wallet db down"),
          [EventAttribute.dlqReceiveCount]: stringAttribute("4"),
          [EventAttribute.dlqFirstReceivedAt]: stringAttribute("2026-01-02T03:04:05.678Z"),
        },
      }),
    );
    const listed = await dlq("list", "--json");
    const letters = listed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(letters).toMatchObject([
      {
        eventId: "e1",
        keyId: "k0123456789abcdef",
        correlationId: "req-9",
        reason: "retries exhausted after 4 attempts: wallet db down",
        receiveCount: 4,
        firstReceivedAt: "2026-01-02T03:04:05.678Z",
        body: '{"id":"e1"}',
      },
    ]);
    const table = await dlq("list");
    expect(table.stdout).toContain("about 1 message(s); showing 1");
    expect(table.stdout).toContain("receives 4  first received 2026-01-02T03:04:05.678Z");
    expect(table.stdout).toContain("key k0123456789abcdef");
    expect(table.stdout).toContain("reason retries exhausted after 4 attempts: wallet db down");
    // Listing twice does not change what it reports (SQS's own count grows with every read).
    expect((await dlq("list", "--json")).stdout).toBe(listed.stdout);

    const redriven = await dlq("redrive");
    expect(redriven.stdout).toContain("Moved 1 message(s) back to");
    const { Messages = [] } = await queues.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MessageAttributeNames: ["All"] }),
    );
    expect(Messages).toHaveLength(1);
    const attributes = Messages[0]?.MessageAttributes ?? {};
    expect(attributes[EventAttribute.eventId]?.StringValue).toBe("e1");
    // The DLQ's own attributes belong to that stay; the next failure, if any, writes its own.
    expect(Object.keys(attributes).sort()).toEqual(
      [EventAttribute.eventId, EventAttribute.keyId, EventAttribute.correlationId].sort(),
    );
  });

  it("says what it cannot know of a message the queue's redrive policy moved itself", async () => {
    await queues.sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.dlqUrl,
        MessageBody: '{"id":"e2"}',
        MessageAttributes: { [EventAttribute.eventId]: stringAttribute("e2") },
      }),
    );
    const table = await dlq("list");
    expect(table.stdout).toContain("receives ?  first received ?");
    expect(table.stdout).toContain(`reason ${REDRIVEN_BY_SQS_REASON}`);
    expect((await dlq("redrive")).stdout).toContain("Moved 1 message(s) back to");
  });

  it("explains its usage and exits 64 on an unknown command", async () => {
    const result = await dlq("purge");
    expect(result).toMatchObject({ code: 64 });
    expect(result.stdout).toContain("Usage: npm run dlq -- <command>");
  });
});
