import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { AppError } from "../src/errors";
import { problemResponse } from "../src/http/problem";

const answer = async (error: AppError) => {
  const app = new Hono();
  app.get("/x", (c) => problemResponse(c, error));
  const response = await app.request("/x");
  return { response, body: (await response.json()) as Record<string, unknown> };
};

describe("problem+json bodies", () => {
  it("carries extension members without letting them replace RFC 9457's", async () => {
    const { response, body } = await answer(
      new AppError({
        status: 410,
        code: "WALLET_CLOSED",
        message: "Closed.",
        extra: { walletStatus: "closed", status: "closed", type: "about:blank", code: "OTHER" },
      }),
    );
    expect(response.status).toBe(410);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body).toEqual({
      type: "urn:problem:wallet-closed",
      title: "Gone",
      status: 410,
      code: "WALLET_CLOSED",
      message: "Closed.",
      detail: "Closed.",
      instance: "/x",
      walletStatus: "closed",
    });
    expect(Object.keys(body).at(-1)).toBe("walletStatus");
  });
});
