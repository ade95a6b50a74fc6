import { withinInvocation } from "@platform/core";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { DRIVERS } from "../../../test/support/database";
import { captureLogger } from "../../../test/support/sqs";
import { expectProblem, useUsersSuite } from "./support";

const TIMEOUTS = { statementMs: 1_000, idleInTransactionMs: 1_000 };

/**
 * A plain connection to the test database, outside the service: another client of the server,
 * free of the role's timeouts so it can hold a lock for as long as the test needs.
 */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    // (node-postgres does not send a 0 given as statement_timeout: it reads as "unset")
    options: "-c statement_timeout=0 -c idle_in_transaction_session_timeout=0",
  });
  await client.connect();
  return client;
}

/**
 * Stops (SIGSTOP) every server process serving a client connection to the database, as a frozen
 * server (a stalled host, a hung disk) would be: connections stay open, nothing answers. Only
 * this test's database is touched. Returns the function that thaws them.
 */
async function freezeBackends(url: string, database: string): Promise<() => void> {
  const admin = await connect(url);
  try {
    const { rows } = await admin.query<{ pid: number }>(
      `select pid from pg_stat_activity
       where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()`,
      [database],
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const { pid } of rows) process.kill(pid, "SIGSTOP");
    return () => {
      for (const { pid } of rows) process.kill(pid, "SIGCONT");
    };
  } finally {
    await admin.end();
  }
}

describe.each(DRIVERS)("statement and idle-in-transaction timeouts (%s)", (driver) => {
  const log = captureLogger();
  // One connection under node-postgres, so the frozen test freezes the one the request uses.
  const suite = useUsersSuite(driver, {
    prefix: "users_timeouts",
    env: {},
    timeouts: TIMEOUTS,
    poolMax: 1,
    logger: log.logger,
  });
  const { api } = suite;

  it("are in force on the service's own connections", async () => {
    const [row] = await queryRows<{ statement: string; idle: string }>(
      suite.db,
      sql`select current_setting('statement_timeout') as statement,
                 current_setting('idle_in_transaction_session_timeout') as idle`,
    );
    expect(row).toEqual({ statement: "1s", idle: "1s" });
  });

  it("a statement blocked by a lock another connection holds ends at the statement timeout: 503 + Retry-After, nothing written", async () => {
    const { body } = await api.register();
    const other = await connect(suite.testDb.url);
    try {
      await other.query("begin");
      await other.query("select 1 from users where id = $1 for update", [body.user.id]);
      const response = await api.send("PATCH", "/v1/users/me", {
        token: body.accessToken,
        body: { firstName: "Blocked" },
      });
      await expectProblem(response, 503, "DEPENDENCY_UNAVAILABLE");
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      const logged = log.lines.find((line) => line.message === "database statement timed out");
      expect(JSON.stringify(logged)).toContain("57014");
    } finally {
      await other.query("rollback");
      await other.end();
    }
    const me = await api.me(body.accessToken);
    expect(((await me.json()) as { user: { firstName: string } }).user.firstName).toBe("Ada");
  });

  it("a transaction left idle is ended by the server", async () => {
    await expect(
      suite.db.transaction(async (tx) => {
        await tx.execute(sql`select 1`);
        await new Promise((resolve) => setTimeout(resolve, TIMEOUTS.idleInTransactionMs + 1_000));
        await tx.execute(sql`select 1`);
      }),
    ).rejects.toThrow();
  });

  it("with PostgreSQL frozen, a request answers 503 + Retry-After instead of waiting for the thaw", async () => {
    const { body } = await api.register();
    const thaw = await freezeBackends(suite.testDb.url, suite.testDb.name);
    try {
      // node-postgres gives up TIMEOUTS.statementMs + 2 s after sending; the Data API driver at
      // the invocation's deadline (here 3 s: 6 s left, less the 3 s kept to answer).
      const response = await withinInvocation({ getRemainingTimeInMillis: () => 6_000 }, () =>
        api.me(body.accessToken),
      );
      await expectProblem(response, 503, "DEPENDENCY_UNAVAILABLE");
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      thaw();
    }
    expect((await api.me(body.accessToken)).status).toBe(200);
  });
});
