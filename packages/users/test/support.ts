import { createLogger, type Env, type Logger } from "@platform/core";
import type { SessionTimeouts } from "@platform/db";
import { expect } from "vitest";
import { type DriverName, type SuiteRuntime, useSuiteRuntime } from "../../../test/support/database";
import { createUsersRuntime, type UsersRuntime, usersMigrationsFolder } from "../src/index";

export const silent = createLogger({ level: "silent" });

/**
 * Rate limits no test reaches by accident: apps called in process have no client address, so all
 * of a file's requests count as one client. The limits themselves are tested on their own.
 */
export const UNLIMITED: Env = { LOGIN_RATE_LIMIT: "1000000", REGISTER_RATE_LIMIT: "1000000" };

/** Three free wrong passwords per account and client, then a delay long enough to assert on. */
export const STRICT_THROTTLE: Env = {
  ...UNLIMITED,
  LOGIN_FREE_FAILURES: "3",
  LOGIN_DELAY_BASE_SECONDS: "60",
};

export interface UserBody {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  createdAt: string;
}

export interface SessionBody {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

export interface Registered extends SessionBody {
  user: UserBody;
}

export interface Problem {
  status: number;
  code: string;
  message: string;
  errors?: { field: string; message: string }[];
}

export interface Credentials {
  email: string;
  password: string;
}

type Fetch = (path: string, init: RequestInit) => Response | Promise<Response>;

let counter = 0;

/** JSON requests against the users app (in process) or a real server's `fetch`. */
export function usersClient(fetcher: Fetch) {
  const send = (method: string, path: string, options: { body?: unknown; token?: string } = {}) =>
    fetcher(path, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      ...(options.body === undefined
        ? {}
        : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
    });

  return {
    send,

    /** Registers a fresh user (201 expected). */
    async register(
      overrides: Record<string, unknown> = {},
    ): Promise<{ credentials: Credentials; body: Registered }> {
      counter += 1;
      const input = {
        firstName: "Ada",
        lastName: "Lovelace",
        email: `ada.${process.pid}.${counter}.${Date.now()}@example.com`,
        password: "correct horse battery",
        ...overrides,
      };
      const response = await send("POST", "/v1/auth/register", { body: input });
      expect(response.status).toBe(201);
      return {
        credentials: { email: String(input.email), password: String(input.password) },
        body: (await response.json()) as Registered,
      };
    },

    /** Logs in (200 expected): a new session. */
    async login(credentials: Credentials): Promise<SessionBody> {
      const response = await send("POST", "/v1/auth/login", { body: credentials });
      expect(response.status).toBe(200);
      return (await response.json()) as SessionBody;
    },

    refresh: (refreshToken: string) => send("POST", "/v1/auth/refresh", { body: { refreshToken } }),
    logout: (refreshToken: string) => send("POST", "/v1/auth/logout", { body: { refreshToken } }),
    me: (token: string) => send("GET", "/v1/users/me", { token }),
  };
}

export type UsersClient = ReturnType<typeof usersClient>;

/** Reads a problem+json answer and checks its status and code. */
export async function expectProblem(response: Response, status: number, code: string): Promise<Problem> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const problem = (await response.json()) as Problem;
  expect(problem.code).toBe(code);
  return problem;
}

export interface UsersSuite extends SuiteRuntime<UsersRuntime> {
  /** The suite's users API, in process. */
  readonly api: UsersClient;
}

/**
 * Registers, in the calling `describe`, a users database migrated and opened under `driver`
 * (statements captured, see `useSuiteDatabase`) and a users runtime on it built from `env`.
 */
export function useUsersSuite(
  driver: DriverName,
  options: { prefix: string; env: Env; poolMax?: number; timeouts?: SessionTimeouts; logger?: Logger },
): UsersSuite {
  const { prefix, env, logger = silent, ...database } = options;
  const suite = useSuiteRuntime(
    { prefix, migrationsFolder: usersMigrationsFolder, driver, ...database },
    (handle) => createUsersRuntime(env, { database: handle, logger }),
  );
  return Object.assign(suite, { api: usersClient((path, init) => suite.runtime.app.request(path, init)) });
}
