import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntimeFixture, startLocalRuntimeFixture } from "../support/local";

/** What the daily schedule does on AWS, npm start does on a timer (IDEMPOTENCY_PRUNE_INTERVAL_SECONDS). */
describe("npm start prunes idempotency keys past their retention", () => {
  let local: LocalRuntimeFixture;

  beforeAll(async () => {
    local = await startLocalRuntimeFixture({
      IDEMPOTENCY_RETENTION_DAYS: "1",
      IDEMPOTENCY_PRUNE_INTERVAL_SECONDS: "1",
    });
  });

  afterAll(async () => {
    await local?.dispose();
  });

  async function walletQuery<T>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: local.runtime.postgres?.url("wallet") });
    await client.connect();
    try {
      return (await client.query(text, values)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it("forgets a key once it is older than the window: the same key then makes a new entry", async () => {
    const registered = await fetch(`${local.runtime.usersUrl}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        firstName: "K",
        lastName: "Ey",
        email: "keys@example.com",
        password: "password123",
      }),
    });
    expect(registered.status).toBe(201);
    const { accessToken } = (await registered.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };
    const credit = () =>
      fetch(`${local.runtime.walletUrl}/v1/transactions/credit`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "idempotency-key": "monthly-top-up" },
        body: JSON.stringify({ amountMinor: 100 }),
      });
    const until = async (check: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 15_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await until(async () => (await credit()).status !== 503, "the wallet to be provisioned");
    const replay = await credit();
    expect(replay.status).toBe(200);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");

    // Two days pass for that entry.
    await walletQuery(
      "update transactions set created_at = now() - interval '2 days' where idempotency_key = $1",
      ["monthly-top-up"],
    );
    await until(
      async () =>
        (
          await walletQuery<{ n: number }>(
            "select count(*)::int as n from transactions where idempotency_key is not null",
          )
        )[0]?.n === 0,
      "the key to be pruned",
    );
    expect(await walletQuery("select count(*)::int as n from transactions")).toEqual([{ n: 1 }]);
    expect((await credit()).status).toBe(201);
    const balance = await fetch(`${local.runtime.walletUrl}/v1/balance`, { headers: auth });
    expect(await balance.json()).toEqual({ balanceMinor: 200, currency: "USD" });
  });
});
