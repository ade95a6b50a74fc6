import { createHmac, timingSafeEqual } from "node:crypto";
import { isUuid } from "@platform/core";

/** Position after the last entry of a page: entries are ordered by (created_at desc, id desc). */
export interface HistoryPosition {
  createdAt: string;
  id: string;
}

const ISO_MICROS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/**
 * Opaque, tamper-evident history cursors: base64url(JSON position) "." base64url(HMAC-SHA256).
 * The tag also covers the user id, so a cursor handed to another user is refused as foreign.
 */
export function createCursorCodec(key: Buffer) {
  const tag = (userId: string, payload: string) =>
    createHmac("sha256", key).update(`${userId}.${payload}`).digest();

  return {
    encode(userId: string, position: HistoryPosition): string {
      const payload = Buffer.from(JSON.stringify([position.createdAt, position.id])).toString("base64url");
      return `${payload}.${tag(userId, payload).toString("base64url")}`;
    },

    /** Returns null for anything not minted by `encode` for this user with this key. */
    decode(userId: string, cursor: string): HistoryPosition | null {
      const [payload, mac, ...rest] = cursor.split(".");
      if (!payload || !mac || rest.length > 0) return null;
      const given = Buffer.from(mac, "base64url");
      const expected = tag(userId, payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      try {
        const decoded: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
        if (!Array.isArray(decoded) || decoded.length !== 2) return null;
        const [createdAt, id] = decoded as unknown[];
        if (typeof createdAt !== "string" || !ISO_MICROS.test(createdAt)) return null;
        if (!isUuid(id)) return null;
        return { createdAt, id };
      } catch {
        return null;
      }
    },
  };
}

export type CursorCodec = ReturnType<typeof createCursorCodec>;
