import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { createStatementNamer, queryRows } from "../src";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase("prepared");
});

afterAll(async () => {
  await database.drop();
});

describe("named statements on node-postgres", () => {
  it("prepares each parameterised statement once per connection and reuses it", async () => {
    const statements: string[] = [];
    // One connection, so the session's prepared statements are the pool's.
    const handle = database.open({ poolMax: 1, onStatement: (text) => statements.push(text) });
    try {
      for (const value of [1, 2, 3]) {
        const [row] = await queryRows<{ doubled: number }>(
          handle.db,
          sql`select ${value}::int * 2 as doubled`,
        );
        expect(row?.doubled).toBe(value * 2);
      }
      await queryRows(handle.db, sql`select 42 as unparameterised`);
      const prepared = await queryRows<{
        name: string;
        statement: string;
        generic_plans: number;
        custom_plans: number;
      }>(
        handle.db,
        sql`select name, statement, generic_plans::int as generic_plans, custom_plans::int as custom_plans
            from pg_prepared_statements where statement like ${"%doubled%"}::text`,
      );
      expect(prepared).toHaveLength(1);
      expect(prepared[0]?.name).toMatch(/^p_[A-Za-z0-9_-]{22}$/);
      expect(Number(prepared[0]?.generic_plans) + Number(prepared[0]?.custom_plans)).toBe(3);
      const unnamed = await queryRows<{ n: number }>(
        handle.db,
        sql`select count(*)::int as n from pg_prepared_statements where statement like ${"%unparameterised%"}::text`,
      );
      expect(unnamed[0]?.n).toBe(0);
      // Still one round trip per statement: naming changes what the server caches, not the traffic.
      expect(statements.filter((text) => text.includes("doubled")).length).toBe(3);
    } finally {
      await handle.close();
    }
  });

  it("names a prepared statement once, under the same name its text gets at execute", async () => {
    const handle = database.open({ poolMax: 1 });
    try {
      const triple = handle.db.prepare<{ tripled: number }>(
        sql`select ${sql.placeholder("n")}::int * 3 as tripled`,
      );
      for (const n of [1, 2]) expect((await triple({ n })).rows).toEqual([{ tripled: n * 3 }]);
      await queryRows(handle.db, sql`select ${5}::int * 3 as tripled`);
      const prepared = await queryRows<{ name: string; runs: number }>(
        handle.db,
        sql`select name, (generic_plans + custom_plans)::int as runs
            from pg_prepared_statements where statement like ${"%tripled%"}::text`,
      );
      expect(prepared).toEqual([{ name: expect.stringMatching(/^p_[A-Za-z0-9_-]{22}$/), runs: 3 }]);
    } finally {
      await handle.close();
    }
  });

  it("keeps working when many distinct statements exceed the cap: the rest run unnamed", async () => {
    const nameOf = createStatementNamer(2);
    const first = nameOf("select $1");
    expect(first).toBeDefined();
    expect(nameOf("select $1")).toBe(first);
    expect(nameOf("select $1, $2")).toBeDefined();
    expect(nameOf("select $1, $2, $3")).toBeUndefined();
    expect(nameOf("select $1")).toBe(first);
  });
});
