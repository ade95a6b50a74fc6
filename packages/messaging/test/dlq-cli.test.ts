import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestQueues, startSqsEmulator, type TestQueues } from "../../../test/support/sqs";
import { EventAttribute, stringAttribute } from "../src/index";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../../..");
const tsx = path.join(root, "node_modules/.bin/tsx");
const cli = path.join(root, "packages/messaging/src/cli/dlq.ts");

let emulator: Awaited<ReturnType<typeof startSqsEmulator>>;
let queues: TestQueues;

beforeAll(async () => {
  emulator = await startSqsEmulator();
  queues = await createTestQueues(emulator.endpoint);
});

afterAll(async () => {
  queues?.sqs.destroy();
  await emulator?.stop();
});

/** Runs `npm run dlq -- ...` as an operator would, against the emulator found by SQS_PORT. */
async function dlq(...args: string[]) {
  const port = new URL(emulator.endpoint).port;
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
  it("lists dead letters with their reason and redrives them to the main queue", async () => {
    await queues.sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.dlqUrl,
        MessageBody: '{"id":"e1"}',
        MessageAttributes: {
          [EventAttribute.eventId]: stringAttribute("e1"),
          [EventAttribute.correlationId]: stringAttribute("req-9"),
          [EventAttribute.dlqReason]: stringAttribute("bad signature: signature mismatch"),
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
        correlationId: "req-9",
        reason: "bad signature: signature mismatch",
        body: '{"id":"e1"}',
      },
    ]);
    const table = await dlq("list");
    expect(table.stdout).toContain("about 1 message(s); showing 1");
    expect(table.stdout).toContain("reason bad signature: signature mismatch");

    const redriven = await dlq("redrive");
    expect(redriven.stdout).toContain("Moved 1 message(s) back to");
    const { Messages = [] } = await queues.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MessageAttributeNames: ["All"] }),
    );
    expect(Messages).toHaveLength(1);
    expect(Messages[0]?.MessageAttributes?.[EventAttribute.eventId]?.StringValue).toBe("e1");
    // The reason belongs to the DLQ stay; the next failure, if any, writes its own.
    expect(Messages[0]?.MessageAttributes?.[EventAttribute.dlqReason]).toBeUndefined();
  });

  it("explains its usage and exits 64 on an unknown command", async () => {
    const result = await dlq("purge");
    expect(result).toMatchObject({ code: 64 });
    expect(result.stdout).toContain("Usage: npm run dlq -- <command>");
  });
});
