import { randomBytes, randomUUID } from "node:crypto";
import {
  BadRequestException,
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseErrorException,
  DatabaseResumingException,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from "@aws-sdk/client-rds-data";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createDataApiEmulator, type DataApiEmulator } from "../src";

const resourceArn = "arn:aws:rds:us-east-1:123456789012:cluster:emulator-test";
const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:emulator-test";
const database = `emulator_${randomBytes(4).toString("hex")}`;

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: inject("postgresAdminUrl") });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

let emulator: DataApiEmulator;
let client: RDSDataClient;

function clientFor(target: DataApiEmulator) {
  return new RDSDataClient({
    endpoint: target.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "emulator", secretAccessKey: "emulator" },
    maxAttempts: 1,
  });
}

function run(
  sql: string,
  parameters: SqlParameter[] = [],
  extra: Partial<ExecuteStatementCommandInput> = {},
) {
  return client.send(
    new ExecuteStatementCommand({ resourceArn, secretArn, database, sql, parameters, ...extra }),
  );
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the request to fail");
}

beforeAll(async () => {
  await admin(`create database "${database}"`);
  emulator = await createDataApiEmulator({ postgresUrl: inject("postgresAdminUrl") });
  client = clientFor(emulator);
  await run(`create table item (
    id uuid primary key, name text not null unique, at timestamptz, day date, clock time,
    doc jsonb, amount numeric(12,2), count bigint, ratio float8, flag boolean, data bytea)`);
});

afterAll(async () => {
  client.destroy();
  await emulator.close();
  await admin(`drop database if exists "${database}" with (force)`);
});

describe("ExecuteStatement", () => {
  it("binds like AWS: strings as varchar, longs as int8, doubles as float8", async () => {
    const result = await run(
      "select pg_typeof(:s)::text as s, pg_typeof(:l)::text as l, pg_typeof(:d)::text as d, :l + 1 as next",
      [
        { name: "s", value: { stringValue: "x" } },
        { name: "l", value: { longValue: 9_007_199_254_740_990 } },
        { name: "d", value: { doubleValue: 1.5 } },
      ],
    );
    expect(result.records).toEqual([
      [
        { stringValue: "character varying" },
        { stringValue: "bigint" },
        { stringValue: "double precision" },
        { longValue: 9_007_199_254_740_991 },
      ],
    ]);
  });

  it("applies type hints and returns each type as the Data API does", async () => {
    const id = randomUUID();
    const inserted = await run(
      `insert into item (id, name, at, day, clock, doc, amount, count, ratio, flag, data)
       values (:id, :name, :at, :day, :clock, :doc, :amount, :count, :ratio, :flag, :data)`,
      [
        { name: "id", value: { stringValue: id }, typeHint: "UUID" },
        { name: "name", value: { stringValue: "hinted" } },
        { name: "at", value: { stringValue: "2024-05-01 10:00:00.123456" }, typeHint: "TIMESTAMP" },
        { name: "day", value: { stringValue: "2024-05-01" }, typeHint: "DATE" },
        { name: "clock", value: { stringValue: "10:30:00" }, typeHint: "TIME" },
        { name: "doc", value: { stringValue: '{"a":1}' }, typeHint: "JSON" },
        { name: "amount", value: { stringValue: "12.50" }, typeHint: "DECIMAL" },
        { name: "count", value: { longValue: 42 } },
        { name: "ratio", value: { doubleValue: 0.25 } },
        { name: "flag", value: { booleanValue: true } },
        { name: "data", value: { blobValue: new Uint8Array([1, 2, 255]) } },
      ],
    );
    expect(inserted.numberOfRecordsUpdated).toBe(1);
    const result = await run(
      "select id, at, day, clock, doc, amount, count, ratio, flag, data, null::text as nothing from item where id = :id::uuid",
      [{ name: "id", value: { stringValue: id } }],
    );
    expect(result.numberOfRecordsUpdated).toBe(0);
    const [row] = result.records ?? [];
    expect(row?.slice(0, 9)).toEqual([
      { stringValue: id },
      { stringValue: "2024-05-01 10:00:00.123456" },
      { stringValue: "2024-05-01" },
      { stringValue: "10:30:00" },
      { stringValue: '{"a": 1}' },
      { stringValue: "12.50" },
      { longValue: 42 },
      { doubleValue: 0.25 },
      { booleanValue: true },
    ]);
    expect(Array.from(row?.[9]?.blobValue ?? [])).toEqual([1, 2, 255]);
    expect(row?.[10]).toEqual({ isNull: true });
  });

  it("accepts hinted timestamps only in the Data API's form", async () => {
    const error = await failure(
      run("select :at as at", [
        { name: "at", value: { stringValue: "2024-05-01T10:00:00.000Z" }, typeHint: "TIMESTAMP" },
      ]),
    );
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toMatch(/could not be parsed as TIMESTAMP/);
  });

  it("returns timestamps in UTC without a zone, trailing zeros dropped", async () => {
    const result = await run(
      "select timestamptz '2024-05-01 10:00:00.5+02' as a, timestamp '2024-05-01 10:00:00' as b",
    );
    expect(result.records).toEqual([
      [{ stringValue: "2024-05-01 08:00:00.5" }, { stringValue: "2024-05-01 10:00:00" }],
    ]);
  });

  it("is as strict as AWS: an untyped string compared with a uuid column fails", async () => {
    const error = await failure(
      run("select 1 from item where id = :id", [{ name: "id", value: { stringValue: randomUUID() } }]),
    );
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/operator does not exist: uuid = character varying.*SQLState: 42883$/s);
  });

  it("reports a failing statement as DatabaseErrorException ending in the SQLSTATE", async () => {
    const error = await failure(run("select * from no_such_table"));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/relation "no_such_table" does not exist.*SQLState: 42P01$/s);
  });

  it("leaves casts, literals, quoted identifiers and comments alone when binding :names", async () => {
    const result = await run(
      `select ':x' as "a:x", :x::text as b, $$ :x $$ as c, E'\\' :x' as d /* :x */ -- :x
       , :x || :x as e`,
      [{ name: "x", value: { stringValue: "v" } }],
    );
    expect(result.records).toEqual([
      [
        { stringValue: ":x" },
        { stringValue: "v" },
        { stringValue: " :x " },
        { stringValue: "' :x" },
        { stringValue: "vv" },
      ],
    ]);
  });

  it("leaves a :name that is no parameter for PostgreSQL to reject", async () => {
    const error = await failure(
      run("select :missing /* :x /* nested */ :x */", [{ name: "x", value: { longValue: 1 } }]),
    );
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/syntax error.*SQLState: 42601$/s);
  });

  it("honours resultSetOptions for longs and decimals", async () => {
    const result = await run(
      "select 9007199254740993::int8 as big, 2.50::numeric as d, 3::numeric as i",
      [],
      {
        resultSetOptions: { longReturnType: "STRING", decimalReturnType: "DOUBLE_OR_LONG" },
      },
    );
    expect(result.records).toEqual([
      [{ stringValue: "9007199254740993" }, { doubleValue: 2.5 }, { longValue: 3 }],
    ]);
  });

  it("formats records as JSON and describes columns on request", async () => {
    const result = await run(
      "select 1::int8 as n, 'a' as s, true as b, array[1,2]::int8[] as xs, array['p','q'] as ys, null::int as z",
      [],
      { formatRecordsAs: "JSON", includeResultMetadata: true },
    );
    expect(result.records).toBeUndefined();
    expect(JSON.parse(result.formattedRecords ?? "")).toEqual([
      { n: 1, s: "a", b: true, xs: [1, 2], ys: ["p", "q"], z: null },
    ]);
    expect(result.columnMetadata?.map((column) => [column.name, column.typeName])).toEqual([
      ["n", "int8"],
      ["s", "text"],
      ["b", "bool"],
      ["xs", "_int8"],
      ["ys", "_text"],
      ["z", "int4"],
    ]);
  });

  it("returns arrays as arrayValue", async () => {
    const result = await run("select array[1,2]::int8[] as xs, array['p','q'] as ys");
    expect(result.records).toEqual([
      [{ arrayValue: { longValues: [1, 2] } }, { arrayValue: { stringValues: ["p", "q"] } }],
    ]);
  });
});

describe("BatchExecuteStatement", () => {
  it("runs the statement once per parameter set, atomically", async () => {
    const names = ["b1", "b2", "b3"];
    const result = await client.send(
      new BatchExecuteStatementCommand({
        resourceArn,
        secretArn,
        database,
        sql: "insert into item (id, name) values (:id, :name)",
        parameterSets: names.map((name) => [
          { name: "id", value: { stringValue: randomUUID() }, typeHint: "UUID" },
          { name: "name", value: { stringValue: name } },
        ]),
      }),
    );
    expect(result.updateResults).toHaveLength(3);

    const error = await failure(
      client.send(
        new BatchExecuteStatementCommand({
          resourceArn,
          secretArn,
          database,
          sql: "insert into item (id, name) values (:id, :name)",
          parameterSets: ["b4", "b1"].map((name) => [
            { name: "id", value: { stringValue: randomUUID() }, typeHint: "UUID" },
            { name: "name", value: { stringValue: name } },
          ]),
        }),
      ),
    );
    expect(error.message).toMatch(/SQLState: 23505$/);
    const count = await run("select count(*) as n from item where name like 'b%'");
    expect(count.records).toEqual([[{ longValue: 3 }]]);
  });
});

describe("transactions", () => {
  const begin = async () => {
    const { transactionId } = await client.send(
      new BeginTransactionCommand({ resourceArn, secretArn, database }),
    );
    return transactionId as string;
  };
  const insert = (transactionId: string, name: string) =>
    run(
      "insert into item (id, name) values (:id, :name)",
      [
        { name: "id", value: { stringValue: randomUUID() }, typeHint: "UUID" },
        { name: "name", value: { stringValue: name } },
      ],
      { transactionId },
    );
  const exists = async (name: string) => {
    const result = await run("select count(*) as n from item where name = :name", [
      { name: "name", value: { stringValue: name } },
    ]);
    return result.records?.[0]?.[0]?.longValue === 1;
  };

  it("commits", async () => {
    const transactionId = await begin();
    await insert(transactionId, "committed");
    expect(await exists("committed")).toBe(false);
    const done = await client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId }));
    expect(done.transactionStatus).toBe("Transaction Committed");
    expect(await exists("committed")).toBe(true);
  });

  it("rolls back", async () => {
    const transactionId = await begin();
    await insert(transactionId, "rolled-back");
    const done = await client.send(new RollbackTransactionCommand({ resourceArn, secretArn, transactionId }));
    expect(done.transactionStatus).toBe("Rollback Complete");
    expect(await exists("rolled-back")).toBe(false);
  });

  it("refuses to commit a transaction whose statement failed", async () => {
    const transactionId = await begin();
    await failure(run("select * from no_such_table", [], { transactionId }));
    const error = await failure(
      client.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })),
    );
    expect(error).toBeInstanceOf(DatabaseErrorException);
  });

  it("answers BadRequestException for an unknown transaction id", async () => {
    const error = await failure(run("select 1", [], { transactionId: "no-such-transaction" }));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toBe("Transaction no-such-transaction is not found");
  });

  it("rolls back a transaction left idle longer than the timeout", async () => {
    // Its own emulator: a short idle timeout would race the other transactions under load.
    const impatient = await createDataApiEmulator({
      postgresUrl: inject("postgresAdminUrl"),
      transactionIdleTimeoutMs: 100,
    });
    const impatientClient = clientFor(impatient);
    try {
      const { transactionId } = await impatientClient.send(
        new BeginTransactionCommand({ resourceArn, secretArn, database }),
      );
      await impatientClient.send(
        new ExecuteStatementCommand({
          resourceArn,
          secretArn,
          database,
          transactionId,
          sql: "insert into item (id, name) values (:id::uuid, 'abandoned')",
          parameters: [{ name: "id", value: { stringValue: randomUUID() } }],
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      const error = await failure(
        impatientClient.send(new CommitTransactionCommand({ resourceArn, secretArn, transactionId })),
      );
      expect(error).toBeInstanceOf(BadRequestException);
      expect(await exists("abandoned")).toBe(false);
    } finally {
      impatientClient.destroy();
      await impatient.close();
    }
  });
});

describe("requests", () => {
  it("rejects a request without ARNs", async () => {
    const error = await failure(
      client.send(
        new ExecuteStatementCommand({ resourceArn: "cluster", secretArn, database, sql: "select 1" }),
      ),
    );
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toBe("resourceArn must be an ARN");
  });

  it("simulates a paused cluster for the next N requests", async () => {
    emulator.simulatePause(2);
    expect(await failure(run("select 1"))).toBeInstanceOf(DatabaseResumingException);
    expect(await failure(run("select 1"))).toBeInstanceOf(DatabaseResumingException);
    expect((await run("select 1 as one")).records).toEqual([[{ longValue: 1 }]]);
  });

  it("pauses like Aurora: the first request wakes the cluster, which answers DatabaseResumingException for a set time", async () => {
    const before = emulator.resumingAnswers;
    emulator.pause(1_500);
    const woken = Date.now();
    // On the wire as AWS answers it: HTTP 400 with the type in x-amzn-errortype.
    const response = await fetch(`${emulator.endpoint}/Execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ resourceArn, secretArn, database, sql: "select 1" }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("x-amzn-errortype")).toBe("DatabaseResumingException");
    expect(((await response.json()) as { message: string }).message).toMatch(
      /resuming after being auto-paused/,
    );
    // The SDK maps it to its exception class; it does not retry it.
    expect(await failure(run("select 1"))).toBeInstanceOf(DatabaseResumingException);
    let answered: Awaited<ReturnType<typeof run>> | undefined;
    while (!answered) {
      answered = await run("select 1 as one").catch((error: Error) => {
        expect(error).toBeInstanceOf(DatabaseResumingException);
        return undefined;
      });
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered.records).toEqual([[{ longValue: 1 }]]);
    // Resumed no sooner than the set time after the request that woke it.
    expect(Date.now() - woken).toBeGreaterThanOrEqual(1_500);
    expect(emulator.resumingAnswers - before).toBeGreaterThanOrEqual(3);
  });
});
