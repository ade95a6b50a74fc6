import type {
  ArrayValue,
  ExecuteStatementCommandInput,
  ExecuteStatementCommandOutput,
  Field,
  RDSDataClient,
  SqlParameter,
} from "@aws-sdk/client-rds-data";
import { beforeDeadline, currentDeadline } from "@platform/core";
import { type SQL, sql } from "drizzle-orm";
import {
  type Database,
  type DatabaseConfig,
  type DatabaseHandle,
  type DatabaseOptions,
  DEFAULT_SESSION_TIMEOUTS,
  type PlaceholderValues,
  type QueryResult,
} from "../types";
import { attempt, onFirstUse, render, renderPrepared } from "./render";

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

/**
 * The SDK, loaded when a first statement needs it rather than when the code is imported: loading
 * it is most of a Lambda cold start (~100 ms here), and a request that never reaches the database
 * (liveness, docs, a refused token) never pays for it.
 */
let sdk: Promise<typeof import("@aws-sdk/client-rds-data")> | undefined;
const loadSdk = () => {
  sdk ??= import("@aws-sdk/client-rds-data");
  return sdk;
};

const clients = new Map<string, Promise<RDSDataClient>>();

/**
 * One RDSDataClient per container (per endpoint and region), created on first use: its keep-alive
 * connections are what make the next invocations fast.
 */
export function sharedDataApiClient(config: { endpoint?: string; region?: string }): Promise<RDSDataClient> {
  const key = `${config.endpoint ?? "aws"}|${config.region ?? ""}`;
  let client = clients.get(key);
  if (!client) {
    client = loadSdk().then(({ RDSDataClient }) => {
      const created = new RDSDataClient(
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
      addResumeRetry(created, RESUME_RETRY);
      addDeadline(created);
      addUtcTimestamps(created);
      return created;
    });
    client.catch(() => clients.delete(key));
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
 * `new Date()` would read in the process's local zone. Asking for column metadata on every
 * statement lets this middleware mark those columns as UTC ("…+00", the form node-postgres gives
 * in a UTC session), so both drivers return the same text.
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

type DataApiConfig = Extract<DatabaseConfig, { driver: "data-api" }>;

const placeholder = (index: number) => `:${index + 1}`;

/** A parameter as the Data API takes it; values it cannot carry (bigint, bytes) are refused. */
function parameter(value: unknown, index: number): SqlParameter {
  const name = String(index + 1);
  if (value === null || value === undefined) return { name, value: { isNull: true } };
  if (typeof value === "string") return { name, value: { stringValue: value } };
  if (typeof value === "number") {
    return { name, value: Number.isInteger(value) ? { longValue: value } : { doubleValue: value } };
  }
  if (typeof value === "boolean") return { name, value: { booleanValue: value } };
  if (value instanceof Date) {
    return { name, value: { stringValue: value.toISOString().replace("T", " ").replace("Z", "") } };
  }
  throw new TypeError(`the Data API cannot carry a parameter of type ${typeof value} (parameter ${name})`);
}

/** An array field, as a JS array (nested arrays included). */
function arrayOf(array: ArrayValue): unknown[] {
  return (
    array.stringValues ??
    array.longValues ??
    array.doubleValues ??
    array.booleanValues ??
    array.arrayValues?.map((inner) => (inner ? arrayOf(inner) : null)) ??
    []
  );
}

/** A field of a record, as JS: text stays text, numbers numbers, SQL NULL null. */
function fieldValue(field: Field): unknown {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.blobValue !== undefined) return field.blobValue;
  return field.arrayValue ? arrayOf(field.arrayValue) : null;
}

/**
 * The RDS Data API as a `Database`: each `execute` is one ExecuteStatement (one round trip), a
 * transaction is Begin/Commit/Rollback around its statements. Records come back as objects keyed
 * by column name.
 */
export function createDataApiDatabase(config: DataApiConfig, options: DatabaseOptions): DatabaseHandle {
  const target = { resourceArn: config.resourceArn, secretArn: config.secretArn, database: config.database };
  const { onStatement } = options;

  const send = async <Row extends Record<string, unknown>>(
    text: string,
    params: unknown[],
    transactionId?: string,
  ): Promise<QueryResult<Row>> => {
    const parameters = params.map(parameter);
    const [client, { ExecuteStatementCommand }] = await Promise.all([sharedDataApiClient(config), loadSdk()]);
    onStatement?.(text);
    const output = await attempt(text, () =>
      client.send(
        new ExecuteStatementCommand({
          ...target,
          sql: text,
          parameters,
          includeResultMetadata: true,
          ...(transactionId ? { transactionId } : {}),
        }),
      ),
    );
    const names = (output.columnMetadata ?? []).map(
      (column, index) => column.name ?? column.label ?? String(index),
    );
    const rows = (output.records ?? []).map((record) => {
      const row: Record<string, unknown> = {};
      record.forEach((field, index) => {
        row[names[index] ?? String(index)] = fieldValue(field);
      });
      return row as Row;
    });
    return { rows, rowCount: output.numberOfRecordsUpdated ?? null };
  };

  const execute = <Row extends Record<string, unknown>>(statement: SQL, transactionId?: string) => {
    const { text, params } = render(statement, placeholder);
    return send<Row>(text, params, transactionId);
  };
  const prepare =
    (transactionId?: string) =>
    <Row extends Record<string, unknown>>(statement: SQL) => {
      const rendered = onFirstUse(() => renderPrepared(statement, placeholder));
      // async: a missing value rejects, as any failure of a run does, rather than throwing.
      return async (values: PlaceholderValues) => {
        const { text, bind } = rendered();
        return send<Row>(text, bind(values), transactionId);
      };
    };

  const db: Database = {
    execute: (statement) => execute(statement),
    prepare: prepare(),
    async transaction(work) {
      const [client, sdkModule] = await Promise.all([sharedDataApiClient(config), loadSdk()]);
      onStatement?.("begin");
      const { transactionId } = await client.send(new sdkModule.BeginTransactionCommand(target));
      if (!transactionId) throw new Error("BeginTransaction returned no transaction id");
      const tx: Database = {
        execute: (statement) => execute(statement, transactionId),
        prepare: prepare(transactionId),
        transaction: () => Promise.reject(new Error("nested transactions are not supported on the Data API")),
      };
      try {
        const result = await work(tx);
        onStatement?.("commit");
        await client.send(new sdkModule.CommitTransactionCommand({ ...target, transactionId }));
        return result;
      } catch (error) {
        onStatement?.("rollback");
        await client.send(new sdkModule.RollbackTransactionCommand({ ...target, transactionId }));
        throw error;
      }
    },
  };
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
