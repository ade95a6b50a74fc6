import { randomUUID } from "node:crypto";
import { createTokenService, loadJwtConfig } from "@platform/core";
import type { Database } from "@platform/db";
import { provisionWallet } from "../src/index";

const tokens = createTokenService(loadJwtConfig({}));

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

/** A user as the users service would issue it: a UUID subject and a signed access token. */
export async function newUser(db?: Database): Promise<{ userId: string; auth: Record<string, string> }> {
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
