import { randomUUID } from "node:crypto";
import { createLogger, createTokenService, type Env, loadJwtConfig } from "@platform/core";
import { type Database, queryRows } from "@platform/db";
import { sql } from "drizzle-orm";
import type pg from "pg";
import { expect } from "vitest";
import { type DriverName, type SuiteRuntime, useSuiteRuntime } from "../../../test/support/database";
import {
  createWalletRuntime,
  provisionWallet,
  type WalletRuntime,
  walletMigrationsFolder,
} from "../src/index";

const tokens = createTokenService(loadJwtConfig({}));

export const silent = createLogger({ level: "silent" });

export interface Problem {
  status: number | string;
  code: string;
  message: string;
  errors?: { field: string; message: string }[];
}

export interface EntryBody {
  id: string;
  type: "credit" | "debit";
  amountMinor: number;
  balanceMinor: number;
  description: string | null;
  createdAt: string;
}

export interface TestUser {
  userId: string;
  auth: Record<string, string>;
}

/** A user as the users service would issue it: a UUID subject and a signed access token. */
export async function newUser(db?: Database): Promise<TestUser> {
  const userId = randomUUID();
  const { accessToken } = await tokens.issue(userId);
  if (db) await provisionWallet(db, userId);
  return { userId, auth: { authorization: `Bearer ${accessToken}` } };
}

type Fetch = (path: string, init: RequestInit) => Response | Promise<Response>;

/** JSON requests against an app's `request` (in process) or a real server's `fetch`. */
export function client(fetcher: Fetch) {
  return {
    async post(path: string, auth: Record<string, string>, body: unknown, key?: string): Promise<Response> {
      return fetcher(path, {
        method: "POST",
        headers: {
          ...auth,
          "content-type": "application/json",
          ...(key === undefined ? {} : { "idempotency-key": key }),
        },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
    },
    async get(path: string, auth: Record<string, string>): Promise<Response> {
      return fetcher(path, { method: "GET", headers: auth });
    },
  };
}

export type WalletClient = ReturnType<typeof client>;

export interface WalletSuite extends SuiteRuntime<WalletRuntime> {
  /** The suite's wallet API, in process. */
  readonly api: WalletClient;
  /** Credits the user's wallet through the API (201 expected). */
  credit(user: TestUser, amountMinor: number): Promise<void>;
  /** A new user with a provisioned wallet, credited `amountMinor` unless it is 0. */
  funded(amountMinor: number): Promise<TestUser>;
  balanceOf(user: Pick<TestUser, "auth">): Promise<number>;
  /** How many ledger entries the user's wallet holds, read from the database. */
  ledgerRows(userId: string): Promise<number>;
}

/**
 * Registers, in the calling `describe`, a wallet database migrated and opened under `driver`
 * (statements captured, see `useSuiteDatabase`) and a wallet runtime on it built from `env`.
 */
export function useWalletSuite(
  driver: DriverName,
  options: { prefix: string; env?: Env; poolMax?: number },
): WalletSuite {
  const suite = useSuiteRuntime(
    {
      prefix: options.prefix,
      migrationsFolder: walletMigrationsFolder,
      driver,
      ...(options.poolMax === undefined ? {} : { poolMax: options.poolMax }),
    },
    (database) => createWalletRuntime(options.env ?? {}, { database, logger: silent }),
  );
  const api = client((path, init) => suite.runtime.app.request(path, init));
  const credit = async (user: TestUser, amountMinor: number) => {
    const response = await api.post("/v1/transactions/credit", user.auth, { amountMinor }, randomUUID());
    expect(response.status).toBe(201);
  };

  return Object.assign(suite, {
    api,
    credit,
    async funded(amountMinor: number) {
      const user = await newUser(suite.db);
      if (amountMinor > 0) await credit(user, amountMinor);
      return user;
    },
    async balanceOf(user: Pick<TestUser, "auth">) {
      const response = await api.get("/v1/balance", user.auth);
      return ((await response.json()) as { balanceMinor: number }).balanceMinor;
    },
    async ledgerRows(userId: string) {
      const [row] = await queryRows<{ n: number }>(
        suite.db,
        sql`select count(*)::int as n from transactions where user_id = ${userId}::uuid`,
      );
      return Number(row?.n);
    },
  });
}

/** Polls `condition` every 20 ms until it holds; fails once `timeoutMs` has passed. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * How many sessions of this database wait for a lock, as `observer` sees it. The observer must be
 * outside any transaction: a transaction sees one snapshot of pg_stat_activity.
 */
export async function lockWaiters(observer: pg.Client): Promise<number> {
  const { rows } = await observer.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
  );
  return rows[0]?.n ?? 0;
}
