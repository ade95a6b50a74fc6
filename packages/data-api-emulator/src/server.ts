import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { BadRequestError, DataApiError, databaseError } from "./errors";
import { rewritePlaceholders } from "./placeholders";
import {
  bindParameter,
  type Field,
  jdbcType,
  type ResultSetOptions,
  type SqlParameter,
  toField,
  toJsonValue,
  typeName,
} from "./values";

export interface EmulatorLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface DataApiEmulatorOptions {
  /** PostgreSQL server to front; its database is the default, `database` in a request picks another. */
  postgresUrl: string;
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  logger?: EmulatorLogger;
  /** AWS rolls back a transaction left idle for 3 minutes; tests shorten it. */
  transactionIdleTimeoutMs?: number;
  /** Connections per database. */
  poolMax?: number;
  /** Answer the first N requests with DatabaseResumingException, like an auto-paused Aurora cluster. */
  resumingRequests?: number;
}

export interface DataApiEmulator {
  /** Base URL for `new RDSDataClient({ endpoint })`. */
  endpoint: string;
  port: number;
  /** Makes the next `requests` requests fail with DatabaseResumingException. */
  simulatePause(requests: number): void;
  /**
   * Pauses the cluster as Aurora's auto-pause does: the next request wakes it, and every request
   * answers DatabaseResumingException until `resumeMs` have passed since that one.
   */
  pause(resumeMs: number): void;
  /** How many requests were answered with DatabaseResumingException so far. */
  readonly resumingAnswers: number;
  close(): Promise<void>;
}

const DEFAULT_IDLE_TIMEOUT_MS = 3 * 60_000;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 1024 * 1024;
const ARN = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$/;

// Every column comes back as PostgreSQL's text form; values.ts maps it to the Data API's union.
const RAW_TYPES = { getTypeParser: () => (value: string) => value };

interface OpenTransaction {
  id: string;
  client: pg.PoolClient;
  timer: NodeJS.Timeout | undefined;
}

type Body = Record<string, unknown>;

export async function createDataApiEmulator(options: DataApiEmulatorOptions): Promise<DataApiEmulator> {
  const base = new URL(options.postgresUrl);
  const idleTimeoutMs = options.transactionIdleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const log = options.logger;
  const pools = new Map<string, pg.Pool>();
  const transactions = new Map<string, OpenTransaction>();
  let resuming = options.resumingRequests ?? 0;
  let pausedResumeMs: number | undefined;
  let resumedAt = 0;
  let resumingAnswers = 0;

  /** Whether this request finds the cluster resuming; the first request after a pause wakes it. */
  function clusterResuming(): boolean {
    if (pausedResumeMs !== undefined) {
      resumedAt = Date.now() + pausedResumeMs;
      pausedResumeMs = undefined;
    }
    if (resuming > 0) {
      resuming -= 1;
      return true;
    }
    return Date.now() < resumedAt;
  }

  function poolFor(database: unknown): pg.Pool {
    const name = database === undefined ? decodeURIComponent(base.pathname.slice(1)) : database;
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(name)) {
      throw new BadRequestError(`Invalid database name: ${String(name)}`);
    }
    let pool = pools.get(name);
    if (!pool) {
      const url = new URL(base);
      url.pathname = `/${encodeURIComponent(name)}`;
      pool = new pg.Pool({
        connectionString: url.toString(),
        max: options.poolMax ?? 10,
        idleTimeoutMillis: 10_000,
        // Aurora's default: timestamps are read and written in UTC whatever the client's zone.
        options: "-c TimeZone=UTC",
      });
      pool.on("error", (error) => log?.warn("idle PostgreSQL connection failed", { error: error.message }));
      // A connection held by a transaction can be ended by the server too (an idle-in-transaction
      // timeout): its next statement fails, as on Aurora.
      pool.on("connect", (client) =>
        client.on("error", (error) => log?.warn("PostgreSQL connection failed", { error: error.message })),
      );
      pools.set(name, pool);
    }
    return pool;
  }

  function armIdleTimer(tx: OpenTransaction) {
    clearTimeout(tx.timer);
    tx.timer = setTimeout(() => {
      transactions.delete(tx.id);
      log?.warn("transaction rolled back after idle timeout", { transactionId: tx.id });
      tx.client
        .query("rollback")
        .then(() => tx.client.release())
        .catch((error: Error) => tx.client.release(error));
    }, idleTimeoutMs);
    tx.timer.unref();
  }

  /** Takes a transaction out of the idle clock while a request uses it. */
  function claimTransaction(id: unknown): OpenTransaction {
    const tx = typeof id === "string" ? transactions.get(id) : undefined;
    if (!tx) throw new BadRequestError(`Transaction ${String(id)} is not found`);
    clearTimeout(tx.timer);
    return tx;
  }

  async function runQuery(executor: pg.Pool | pg.PoolClient, text: string, values: unknown[]) {
    try {
      const result = (await executor.query({ text, values, rowMode: "array", types: RAW_TYPES })) as
        | pg.QueryResult<unknown[]>
        | pg.QueryResult<unknown[]>[];
      // Several statements without parameters run as one simple query; the last one answers.
      return Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult<unknown[]>) : result;
    } catch (error) {
      throw databaseError(error);
    }
  }

  function prepare(body: Body, parameters: unknown) {
    const sqlText = body.sql;
    if (typeof sqlText !== "string" || sqlText.trim() === "") throw new BadRequestError("sql is required");
    if (parameters !== undefined && !Array.isArray(parameters)) {
      throw new BadRequestError("parameters must be a list");
    }
    const bound = new Map<string, ReturnType<typeof bindParameter>>();
    for (const parameter of (parameters ?? []) as SqlParameter[]) {
      if (typeof parameter?.name !== "string" || parameter.name === "") {
        throw new BadRequestError("Every parameter needs a name");
      }
      bound.set(parameter.name, bindParameter(parameter));
    }
    const { text, order } = rewritePlaceholders(sqlText, (name) => bound.get(name)?.cast);
    return { text, values: order.map((name) => bound.get(name)?.value) };
  }

  async function execute(body: Body) {
    const formatRecordsAs = body.formatRecordsAs ?? "NONE";
    if (formatRecordsAs !== "NONE" && formatRecordsAs !== "JSON") {
      throw new BadRequestError(`Invalid formatRecordsAs: ${String(formatRecordsAs)}`);
    }
    const resultOptions = (body.resultSetOptions ?? {}) as ResultSetOptions;
    const { text, values } = prepare(body, body.parameters);
    const tx = body.transactionId === undefined ? undefined : claimTransaction(body.transactionId);
    let result: pg.QueryResult<unknown[]>;
    try {
      result = await runQuery(tx ? tx.client : poolFor(body.database), text, values);
    } finally {
      if (tx && transactions.has(tx.id)) armIdleTimer(tx);
    }
    const dml = ["INSERT", "UPDATE", "DELETE", "MERGE"].includes(result.command);
    const response: Body = { numberOfRecordsUpdated: dml ? (result.rowCount ?? 0) : 0 };
    const fields = result.fields ?? [];
    if (fields.length > 0) {
      const rows = result.rows as (string | null)[][];
      if (formatRecordsAs === "JSON") {
        response.formattedRecords = JSON.stringify(
          rows.map((row) =>
            Object.fromEntries(
              fields.map((field, i) => [
                field.name,
                toJsonValue(row[i] ?? null, field.dataTypeID, resultOptions),
              ]),
            ),
          ),
        );
      } else {
        response.records = rows.map((row) =>
          fields.map((field, i): Field => toField(row[i] ?? null, field.dataTypeID, resultOptions)),
        );
      }
    }
    if (body.includeResultMetadata === true) {
      response.columnMetadata = fields.map((field) => ({
        name: field.name,
        label: field.name,
        type: jdbcType(field.dataTypeID),
        typeName: typeName(field.dataTypeID),
        schemaName: "",
        tableName: "",
        isAutoIncrement: false,
        isSigned: [20, 21, 23, 700, 701, 1700].includes(field.dataTypeID),
        isCurrency: false,
        isCaseSensitive: [25, 1043, 1042].includes(field.dataTypeID),
        nullable: 2,
        precision: 0,
        scale: 0,
        arrayBaseColumnType: 0,
      }));
    }
    return response;
  }

  async function batchExecute(body: Body) {
    const sets = body.parameterSets;
    if (sets !== undefined && !Array.isArray(sets)) throw new BadRequestError("parameterSets must be a list");
    const statements = (sets && sets.length > 0 ? sets : [undefined]).map((set) => prepare(body, set));
    const tx = body.transactionId === undefined ? undefined : claimTransaction(body.transactionId);
    // Outside a transaction the batch is applied as a unit: all parameter sets or none.
    const client = tx ? tx.client : await connect(poolFor(body.database));
    try {
      if (!tx) await runQuery(client, "begin", []);
      for (const statement of statements) await runQuery(client, statement.text, statement.values);
      if (!tx) await runQuery(client, "commit", []);
    } catch (error) {
      if (!tx) await client.query("rollback").catch(() => undefined);
      throw error;
    } finally {
      if (tx) {
        if (transactions.has(tx.id)) armIdleTimer(tx);
      } else {
        client.release();
      }
    }
    return { updateResults: sets && sets.length > 0 ? sets.map(() => ({ generatedFields: [] })) : [] };
  }

  async function connect(pool: pg.Pool): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (error) {
      throw databaseError(error);
    }
  }

  async function beginTransaction(body: Body) {
    const client = await connect(poolFor(body.database));
    try {
      await runQuery(client, "begin", []);
    } catch (error) {
      client.release();
      throw error;
    }
    const tx: OpenTransaction = { id: randomBytes(48).toString("base64"), client, timer: undefined };
    transactions.set(tx.id, tx);
    armIdleTimer(tx);
    return { transactionId: tx.id };
  }

  async function endTransaction(body: Body, statement: "commit" | "rollback") {
    const tx = claimTransaction(body.transactionId);
    transactions.delete(tx.id);
    try {
      const result = await runQuery(tx.client, statement, []);
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK; JDBC (so AWS) reports it.
      if (statement === "commit" && result.command === "ROLLBACK") {
        throw new DataApiError(
          "DatabaseErrorException",
          400,
          "The database returned ROLLBACK, so the transaction cannot be committed; SQLState: 25P02",
        );
      }
      tx.client.release();
    } catch (error) {
      tx.client.release(error instanceof Error ? error : undefined);
      throw error;
    }
    return { transactionStatus: statement === "commit" ? "Transaction Committed" : "Rollback Complete" };
  }

  const operations: Record<string, (body: Body) => Promise<Body>> = {
    "/Execute": execute,
    "/BatchExecute": batchExecute,
    "/BeginTransaction": beginTransaction,
    "/CommitTransaction": (body) => endTransaction(body, "commit"),
    "/RollbackTransaction": (body) => endTransaction(body, "rollback"),
  };

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const requestId = randomUUID();
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    try {
      const operation = operations[path];
      if (request.method !== "POST" || !operation) {
        throw new DataApiError(
          "UnknownOperationException",
          404,
          `Unknown operation ${request.method} ${path}`,
        );
      }
      const body = await readJson(request);
      for (const key of ["resourceArn", "secretArn"]) {
        if (typeof body[key] !== "string" || !ARN.test(body[key] as string)) {
          throw new BadRequestError(`${key} must be an ARN`);
        }
      }
      if (clusterResuming()) {
        resumingAnswers += 1;
        // As AWS answers it: HTTP 400, the type in x-amzn-errortype (the SDK's model for it).
        throw new DataApiError(
          "DatabaseResumingException",
          400,
          "The Aurora DB instance emulator is resuming after being auto-paused. Please wait a few seconds and try again.",
        );
      }
      const payload = JSON.stringify(await operation(body));
      if (Buffer.byteLength(payload) > MAX_RESPONSE_BYTES) {
        throw new BadRequestError("Database returned more than the allowed response size limit");
      }
      response.writeHead(200, { "content-type": "application/json", "x-amzn-requestid": requestId });
      response.end(payload);
    } catch (error) {
      const known =
        error instanceof DataApiError
          ? error
          : new DataApiError("InternalServerErrorException", 500, "Internal server error");
      if (!(error instanceof DataApiError)) log?.error("emulator failure", { error: String(error), path });
      response.writeHead(known.status, {
        "content-type": "application/json",
        "x-amzn-errortype": known.type,
        "x-amzn-requestid": requestId,
      });
      response.end(JSON.stringify({ message: known.message }));
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  // The SDK keeps connections alive; a server closing them sooner than the client expects makes
  // a request race the close (ECONNRESET), so idle connections are kept longer, as AWS does.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://${options.host ?? "127.0.0.1"}:${port}`;
  log?.info("Data API emulator listening", { endpoint });

  return {
    endpoint,
    port,
    simulatePause(requests) {
      resuming = requests;
    },
    pause(resumeMs) {
      pausedResumeMs = resumeMs;
    },
    get resumingAnswers() {
      return resumingAnswers;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      for (const tx of transactions.values()) {
        clearTimeout(tx.timer);
        await tx.client.query("rollback").catch(() => undefined);
        tx.client.release();
      }
      transactions.clear();
      await Promise.all([...pools.values()].map((pool) => pool.end()));
      pools.clear();
    },
  };
}

async function readJson(request: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new BadRequestError("Request is too large");
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new BadRequestError("Request body is not valid JSON");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new BadRequestError("Request body must be a JSON object");
  }
  return parsed as Body;
}
