import { createLogger } from "@platform/core";
import { queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../test/support/database";
import { createUsersRuntime, usersMigrationsFolder } from "../src/index";

describe("eager publish configured from the environment", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase("users_eager", usersMigrationsFolder);
  });

  afterAll(async () => {
    await testDb?.drop();
  });

  it("registers (201) when the queue is unreachable and leaves the event pending for the relay", async () => {
    const database = testDb.open();
    try {
      const runtime = createUsersRuntime(
        {
          // Nothing listens on port 9: every send fails fast with a connection error.
          SQS_ENDPOINT: "http://127.0.0.1:9",
          USER_EVENTS_QUEUE_URL: "http://127.0.0.1:9/000000000000/user-events",
          OUTBOX_BACKOFF_BASE_SECONDS: "5",
        },
        { database, logger: createLogger({ level: "silent" }) },
      );
      const response = await runtime.app.request("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          firstName: "Q",
          lastName: "Down",
          email: "queue.down@example.com",
          password: "password123",
        }),
      });
      expect(response.status).toBe(201);
      const { user } = (await response.json()) as { user: { id: string } };

      const [row] = await queryRows<{
        status: string;
        attempts: number;
        has_error: boolean;
        leased: boolean;
        due_later: boolean;
      }>(
        database.db,
        sql`select status, attempts, last_error is not null as has_error, lease_until is not null as leased,
                   next_attempt_at > now() as due_later
            from outbox where aggregate_id = ${user.id}::uuid`,
      );
      expect(row).toEqual({
        status: "pending",
        attempts: 1,
        has_error: true,
        leased: false,
        due_later: true,
      });
    } finally {
      await database.close();
    }
  });
});
