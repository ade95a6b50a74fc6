import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  RDSDataClient,
  RollbackTransactionCommand,
} from "@aws-sdk/client-rds-data";
import { beforeDeadline, currentDeadline } from "@platform/core";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/aws-data-api/pg";
import {
  type Database,
  type DatabaseConfig,
  type DatabaseHandle,
  type DatabaseOptions,
  DEFAULT_SESSION_TIMEOUTS,
} from "../types";

type DataApiConfig = Extract<DatabaseConfig, { driver: "data-api" }>;

export interface ResumeRetryPolicy {
  /** The first wait; each further one doubles, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** How long to keep trying when no deadline was set (scripts, the embedded runtime, migrators). */
  defaultBudgetMs: number;
}

/**
 * An auto-paused Aurora cluster answers DatabaseResumingException for the ~15-30 s it takes to
 * resume, and the SDK does not retry it. Waits are capped at 5 s, so a resumed cluster is noticed
 * within 5 s; the time budget, not a count of attempts, decides when to give up.
 */
export const RESUME_RETRY: ResumeRetryPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 5_000,
  defaultBudgetMs: 60_000,
};

const clients = new Map<string, RDSDataClient>();

/**
 * One RDSDataClient per container (per endpoint and region): creating it is the costly part of a
 * cold start, and its keep-alive connections are what make the next invocations fast.
 */
export function sharedDataApiClient(config: { endpoint?: string; region?: string }): RDSDataClient {
  const key = `${config.endpoint ?? "aws"}|${config.region ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    client = new RDSDataClient(
      config.endpoint
        ? {
            endpoint: config.endpoint,
            region: config.region ?? "us-east-1",
            // The emulator does not check signatures; dummy keys keep the credential chain
            // from probing the environment (and from failing where it has nothing to find).
            credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
          }
        : config.region
          ? { region: config.region }
          : {},
    );
    addResumeRetry(client, RESUME_RETRY);
    addDeadline(client);
    addUtcTimestamps(client);
    clients.set(key, client);
  }
  return client;
}

/**
 * The wait before attempt `attempt + 1`: exponential, with "equal jitter" (half fixed, half
 * random) so containers woken by one pause do not retry in step, and never past the time left.
 * `undefined` once no time is left: give up and let the caller answer (a 503 with Retry-After).
 */
export function resumeWait(
  policy: ResumeRetryPolicy,
  attempt: number,
  msLeft: number,
  random: () => number = Math.random,
): number | undefined {
  if (msLeft <= 0) return undefined;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.min(msLeft, ceiling / 2 + (ceiling / 2) * random());
}

/**
 * Retries DatabaseResumingException until the cluster answers or the time budget is spent: the
 * deadline of the surrounding work (a Lambda invocation's remaining time less a margin, see
 * `withDeadline` in @platform/core), or `defaultBudgetMs` from the first attempt. It sits in the
 * initialize step, outside the SDK's own retry, so each attempt is serialised and signed afresh.
 */
function addResumeRetry(client: RDSDataClient, policy: ResumeRetryPolicy) {
  client.middlewareStack.add(
    (next) => async (args) => {
      const deadline = currentDeadline() ?? Date.now() + policy.defaultBudgetMs;
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await next(args);
        } catch (error) {
          if ((error as { name?: string }).name !== "DatabaseResumingException") throw error;
          const wait = resumeWait(policy, attempt, deadline - Date.now());
          if (wait === undefined) throw error;
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    },
    { step: "initialize", name: "databaseResumingRetry" },
  );
}

/**
 * The Data API waits up to 45 s for a statement, and a cluster that stopped answering would hold
 * a request for all of it. Within a deadline (a Lambda invocation's time less the margin to answer)
 * a call still unanswered a second after the deadline fails, so the API answers 503 + Retry-After
 * instead of running into the function's timeout. It sits inside the resume retry: an attempt
 * started at the deadline still gets its (quick) answer, only a call nobody answers is cut, and
 * the second comes out of the 3 s kept to answer. The statement itself is bounded by the server's
 * statement_timeout (the role's default, see migrateDatabase).
 */
const DEADLINE_GRACE_MS = 1_000;

function addDeadline(client: RDSDataClient) {
  client.middlewareStack.add(
    (next) => (args) => beforeDeadline("the RDS Data API", next(args), DEADLINE_GRACE_MS),
    { step: "build", name: "invocationDeadline" },
  );
}

/**
 * The Data API returns timestamptz as zone-less UTC text ("2024-05-01 10:00:00.123"), which
 * drizzle hands to `new Date()`: that reads it in the process's local zone. Asking for column
 * metadata on every statement lets this middleware mark those columns as UTC ("…+00", the form
 * node-postgres gives in a UTC session), so Date and string modes read the same under both drivers.
 */
function addUtcTimestamps(client: RDSDataClient) {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "ExecuteStatementCommand") return next(args);
      const input = args.input as ExecuteStatementCommandInput;
      if (input.formatRecordsAs === "JSON") return next(args);
      const withMetadata: ExecuteStatementCommandInput = { ...input, includeResultMetadata: true };
      const result = await next({ ...args, input: withMetadata });
      const output = result.output as ExecuteStatementCommandOutput;
      const zoned = (output.columnMetadata ?? []).flatMap((column, index) =>
        column.typeName === "timestamptz" ? [index] : [],
      );
      for (const record of zoned.length > 0 ? (output.records ?? []) : []) {
        for (const index of zoned) {
          const field = record[index];
          if (field?.stringValue !== undefined) record[index] = { stringValue: `${field.stringValue}+00` };
        }
      }
      if (!input.includeResultMetadata) output.columnMetadata = undefined;
      return result;
    },
    { step: "initialize", name: "utcTimestamps" },
  );
}

function describeCommand(command: unknown): string {
  if (command instanceof BeginTransactionCommand) return "begin";
  if (command instanceof CommitTransactionCommand) return "commit";
  if (command instanceof RollbackTransactionCommand) return "rollback";
  return String((command as { input?: { sql?: unknown } }).input?.sql ?? "");
}

/**
 * Reports every command a handle sends (Execute, BatchExecute, Begin/Commit/Rollback: each is a
 * round trip). It wraps `send` per handle rather than adding middleware, because the client is
 * shared by every handle in the container and each handle has its own listener.
 */
function countingClient(client: RDSDataClient, onStatement: (sql: string) => void): RDSDataClient {
  const counting = {
    send(command: Parameters<RDSDataClient["send"]>[0], ...rest: unknown[]) {
      onStatement(describeCommand(command));
      return (client.send as (...args: unknown[]) => unknown)(command, ...rest);
    },
  };
  return counting as unknown as RDSDataClient;
}

export function createDataApiDatabase(config: DataApiConfig, options: DatabaseOptions): DatabaseHandle {
  const shared = sharedDataApiClient(config);
  const client = options.onStatement ? countingClient(shared, options.onStatement) : shared;
  const db = drizzle({
    client,
    resourceArn: config.resourceArn,
    secretArn: config.secretArn,
    database: config.database,
  }) as unknown as Database;
  return {
    db,
    driver: "data-api",
    // The Data API has no per-connection settings: these are the database's defaults for its
    // role, which the migrator sets (migrateDatabase).
    timeouts: config.timeouts ?? DEFAULT_SESSION_TIMEOUTS,
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      // Nothing to release: the shared client outlives the handle, other handles keep using it.
    },
  };
}
