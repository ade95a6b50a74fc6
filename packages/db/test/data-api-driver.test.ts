import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseResumingException, RDSDataClient } from "@aws-sdk/client-rds-data";
import { withDeadline } from "@platform/core";
import { createDataApiEmulator, type DataApiEmulator } from "@platform/data-api-emulator";
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTestDatabase,
  type DriverName,
  dataApiEmulator,
  type TestDatabase,
} from "../../../test/support/database";
import {
  createDatabase,
  type DatabaseHandle,
  DatabaseQueryError,
  isoTimestamp,
  migrateDatabase,
  queryRows,
  toSafeInteger,
} from "../src";
import { RESUME_RETRY, resumeWait, sharedDataApiClient } from "../src/drivers/data-api";

const migrations = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/migrations");

const drivers: DriverName[] = ["pg", "data-api"];
const handles: DatabaseHandle[] = [];
let database: TestDatabase;

function open(driver: DriverName, onStatement?: (sql: string) => void): DatabaseHandle {
  const handle = database.open(onStatement ? { driver, onStatement } : { driver });
  handles.push(handle);
  return handle;
}

beforeAll(async () => {
  database = await createTestDatabase("dataapi");
});

afterAll(async () => {
  await Promise.all(handles.map((handle) => handle.close()));
  await database.drop();
});

describe("migrateDatabase under the Data API driver", () => {
  it("applies pending migrations once, serialising concurrent migrators", async () => {
    const target = await createTestDatabase("dataapi_migrate");
    const viaDataApi = target.open({ driver: "data-api" });
    const viaPg = target.open({ driver: "pg" });
    try {
      const results = await Promise.all([
        migrateDatabase(viaDataApi.db, migrations),
        migrateDatabase(viaPg.db, migrations),
      ]);
      expect(results.map((result) => result.applied).sort()).toEqual([0, 2]);
      expect(await migrateDatabase(viaDataApi.db, migrations)).toEqual({ applied: 0 });
      const columns = await queryRows<{ column_name: string }>(
        viaDataApi.db,
        sql`select column_name from information_schema.columns where table_name = 'account' order by column_name`,
      );
      expect(columns.map((column) => column.column_name)).toEqual([
        "active",
        "balance",
        "created_at",
        "id",
        "name",
        "profile",
        "rate",
      ]);
    } finally {
      await viaDataApi.close();
      await viaPg.close();
      await target.drop();
    }
  });
});

describe.each(drivers)("raw SQL over %s", (driver) => {
  beforeAll(async () => {
    const handle = open("data-api");
    await migrateDatabase(handle.db, migrations);
  });

  afterEach(() => {
    process.env.TZ = "UTC";
  });

  it("round-trips a row, timestamps as the server's text whatever the process's time zone", async () => {
    // A zone far from UTC: a driver reading zone-less text as local time would shift by hours.
    process.env.TZ = "America/Sao_Paulo";
    const { db } = open(driver);
    const id = randomUUID();
    const createdAt = new Date("2024-05-01T10:00:00.123Z");
    const inserted = await db.execute(sql`
      insert into account (id, name, balance, created_at, profile, rate)
      values (${id}::uuid, ${`raw-${driver}`}::text, ${1500}::bigint, ${createdAt.toISOString()}::timestamptz,
              ${JSON.stringify({ tier: "gold", tags: ["a"] })}::jsonb, ${"1.25"}::numeric)
      returning id::text as id, name, balance, created_at, profile::text as profile, rate::text as rate, active`);
    expect(inserted.rowCount).toBe(1);
    expect({ ...inserted.rows[0], balance: toSafeInteger(inserted.rows[0]?.balance, "balance") }).toEqual({
      id,
      name: `raw-${driver}`,
      balance: 1500,
      created_at: "2024-05-01 10:00:00.123+00",
      profile: '{"tags": ["a"], "tier": "gold"}',
      rate: "1.2500",
      active: true,
    });

    const updated = await db.execute(
      sql`update account set balance = balance + ${250}::bigint, active = false where id = ${id}::uuid`,
    );
    expect(updated.rowCount).toBe(1);
    const [read] = await queryRows(db, sql`select balance, active from account where id = ${id}::uuid`);
    expect({ ...read, balance: toSafeInteger(read?.balance, "balance") }).toEqual({
      balance: 1750,
      active: false,
    });

    const deleted = await queryRows(
      db,
      sql`delete from account where id = ${id}::uuid returning id::text as id`,
    );
    expect(deleted).toEqual([{ id }]);
  });

  it("rolls back a failed transaction", async () => {
    const { db } = open(driver);
    const id = randomUUID();
    await expect(
      db.transaction(async (tx) => {
        await tx.execute(sql`insert into account (id, name) values (${id}::uuid, ${"doomed"}::text)`);
        await tx.execute(sql`select 1 / 0`);
      }),
    ).rejects.toThrow();
    expect(await queryRows(db, sql`select id from account where id = ${id}::uuid`)).toEqual([]);
  });

  it("runs a prepared statement with each run's placeholder values, one round trip per run", async () => {
    const seen: string[] = [];
    const { db } = open(driver, (statement) => seen.push(statement));
    const insert = db.prepare<
      { id: string; name: string; balance: string | number },
      { id: string; name: string | null }
    >(
      sql`insert into account (id, name, balance)
          values (${sql.placeholder("id")}::uuid, coalesce(${sql.placeholder("name")}::text, 'anonymous'), ${700}::bigint)
          returning id::text as id, name, balance`,
    );
    const ids = [randomUUID(), randomUUID()];
    const first = await insert({ id: ids[0] as string, name: `prepared-${driver}` });
    const second = await insert({ id: ids[1] as string, name: null });
    expect(first.rows.map((row) => ({ ...row, balance: toSafeInteger(row.balance, "balance") }))).toEqual([
      { id: ids[0], name: `prepared-${driver}`, balance: 700 },
    ]);
    expect(second.rows[0]?.name).toBe("anonymous");
    expect(second.rowCount).toBe(1);
    expect(seen).toHaveLength(2);

    // Inside a transaction it runs on the transaction's session: rolled back with it.
    const id = randomUUID();
    await expect(
      db.transaction(async (tx) => {
        await tx.prepare(
          sql`insert into account (id, name) values (${sql.placeholder("id")}::uuid, ${"tx"}::text)`,
        )({
          id,
        });
        await tx.execute(sql`select 1 / 0`);
      }),
    ).rejects.toThrow();
    expect(await queryRows(db, sql`select id from account where id = ${id}::uuid`)).toEqual([]);
  });

  it("fails a prepared statement's run as it fails execute: the statement named, no value in the message", async () => {
    const { db } = open(driver);
    const byId = db.prepare(sql`select name from account where id = ${sql.placeholder("id")}::uuid`);
    const failure = await byId({ id: "not-a-uuid-but-a-secret" }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DatabaseQueryError);
    expect((failure as Error).message).toMatch(/^Failed query: select name from account where id = /);
    expect((failure as Error).message).not.toContain("not-a-uuid-but-a-secret");
  });

  it("refuses to run a prepared statement without a value for each placeholder", async () => {
    const seen: string[] = [];
    const { db } = open(driver, (statement) => seen.push(statement));
    const select = db.prepare(sql`select ${sql.placeholder("wanted")}::int as wanted`);
    await expect(select({ other: 1 })).rejects.toThrow('no value for placeholder "wanted"');
    expect(seen).toEqual([]);
  });

  it("refuses a parameter the Data API cannot carry, before sending anything", async () => {
    const seen: string[] = [];
    const { db } = open(driver, (statement) => seen.push(statement));
    if (driver === "data-api") {
      await expect(db.execute(sql`select ${10n}::bigint`)).rejects.toThrow(
        /cannot carry a parameter of type bigint/,
      );
      expect(seen).toEqual([]);
    } else {
      expect(await queryRows(db, sql`select ${10n}::bigint::text as n`)).toEqual([{ n: "10" }]);
    }
  });
});

describe("raw SQL gives the same JS values under both drivers", () => {
  it("queryRows with isoTimestamp, casts and toSafeInteger", async () => {
    const setup = open("pg");
    const id = randomUUID();
    await setup.db.execute(sql`
      insert into account (id, name, balance, created_at, profile)
      values (${id}::uuid, ${"same"}::text, ${"9007199254740991"}::bigint,
              ${"2024-05-01T10:00:00.123456Z"}::timestamptz, ${JSON.stringify({ tier: "x", tags: [] })}::jsonb)`);
    const statement = sql`
      select a.id::text as id, a.name, a.balance, ${isoTimestamp(sql`a.created_at`)} as created_at,
             a.profile::text as profile, a.active, a.rate
      from account a where a.id = ${id}::uuid`;
    const [viaPg] = await queryRows<Record<string, unknown>>(open("pg").db, statement);
    const [viaDataApi] = await queryRows<Record<string, unknown>>(open("data-api").db, statement);
    const normalise = (row: Record<string, unknown> | undefined) => ({
      ...row,
      balance: toSafeInteger(row?.balance, "balance"),
    });
    expect(normalise(viaDataApi)).toEqual(normalise(viaPg));
    expect(normalise(viaDataApi)).toEqual({
      id,
      name: "same",
      balance: 9_007_199_254_740_991,
      created_at: "2024-05-01T10:00:00.123456Z",
      profile: '{"tags": [], "tier": "x"}',
      active: true,
      rate: null,
    });
  });
});

describe("statement counter under the Data API driver", () => {
  it("counts every command sent: statements and transaction control alike", async () => {
    const seen: string[] = [];
    const { db } = open("data-api", (statement) => seen.push(statement));
    await db.execute(sql`select id from account limit 1`);
    expect(seen).toHaveLength(1);

    seen.length = 0;
    await db.transaction(async (tx) => {
      await tx.execute(sql`select 1`);
      await tx.execute(sql`select 2`);
    });
    expect(seen).toEqual(["begin", "select 1", "select 2", "commit"]);

    seen.length = 0;
    await expect(db.transaction(async (tx) => tx.execute(sql`select 1 / 0`))).rejects.toThrow();
    expect(seen).toEqual(["begin", "select 1 / 0", "rollback"]);
  });
});

describe("the RDS Data client", () => {
  it("is created once per container and endpoint, and survives closing a handle", async () => {
    const first = open("data-api");
    const second = open("data-api");
    await first.ping();
    await second.ping();
    const endpoint = { endpoint: (await dataApiEmulator()).endpoint };
    const client = await sharedDataApiClient(endpoint);
    expect(client).toBeInstanceOf(RDSDataClient);
    expect(await sharedDataApiClient(endpoint)).toBe(client);
    await first.close();
    await second.ping();
  });
});

describe("waiting for a paused cluster", () => {
  const policy = RESUME_RETRY;

  it("grows each wait up to the cap, with jitter between half and all of it", () => {
    const lowest = [0, 1, 2, 3, 4, 5].map((attempt) => resumeWait(policy, attempt, 60_000, () => 0));
    const highest = [0, 1, 2, 3, 4, 5].map((attempt) => resumeWait(policy, attempt, 60_000, () => 1));
    expect(highest).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(lowest).toEqual([250, 500, 1000, 2000, 2500, 2500]);
    const drawn = resumeWait(policy, 3, 60_000, () => 0.5);
    expect(drawn).toBe(3000);
  });

  it("never waits past the time left, and stops once none is left", () => {
    expect(resumeWait(policy, 10, 1_200, () => 1)).toBe(1_200);
    expect(resumeWait(policy, 0, 0)).toBeUndefined();
    expect(resumeWait(policy, 0, -5)).toBeUndefined();
  });
});

describe("a paused Aurora cluster", () => {
  let emulator: DataApiEmulator;

  beforeAll(async () => {
    emulator = await createDataApiEmulator({ postgresUrl: inject("postgresAdminUrl") });
  });

  afterAll(async () => {
    await emulator.close();
  });

  const pausedHandle = (seen: string[]) =>
    createDatabase(
      {
        driver: "data-api",
        resourceArn: "arn:aws:rds:us-east-1:123456789012:cluster:paused",
        secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:paused",
        database: database.name,
        endpoint: emulator.endpoint,
      },
      { onStatement: (statement) => seen.push(statement) },
    );

  it("is waited for: DatabaseResumingException is retried until the cluster answers", async () => {
    const seen: string[] = [];
    const handle = pausedHandle(seen);
    emulator.simulatePause(3);
    await handle.ping();
    // One command from the caller's point of view, however many attempts it took.
    expect(seen).toEqual(["select 1"]);
    await handle.close();
  });

  it("waits out a resume that takes a while, within the time the caller has left", async () => {
    const seen: string[] = [];
    const handle = pausedHandle(seen);
    const before = emulator.resumingAnswers;
    emulator.pause(2_000);
    await withDeadline(Date.now() + 20_000, () => handle.ping());
    expect(seen).toEqual(["select 1"]);
    expect(emulator.resumingAnswers - before).toBeGreaterThanOrEqual(2);
    await handle.close();
  });

  it("waits without a deadline too (scripts, the embedded runtime), within its default budget", async () => {
    const handle = pausedHandle([]);
    emulator.pause(1_500);
    await handle.ping();
    await handle.close();
  });

  it("gives up when the caller's time is up, with the error the HTTP layer maps to a 503", async () => {
    const handle = pausedHandle([]);
    const before = emulator.resumingAnswers;
    emulator.pause(60_000);
    try {
      // A resume that outlasts the deadline: the error comes back instead of a wait past it.
      const error = await withDeadline(Date.now() + 1_000, () => handle.ping()).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      // The driver wraps it; the HTTP layer looks through the wrapper (isDependencyUnavailable).
      expect((error as Error | undefined)?.cause).toBeInstanceOf(DatabaseResumingException);
      expect(emulator.resumingAnswers - before).toBeGreaterThanOrEqual(2);
    } finally {
      emulator.pause(0);
      await handle.close();
    }
  });
});
