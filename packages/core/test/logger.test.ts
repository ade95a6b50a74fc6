import { describe, expect, it } from "vitest";
import { createLogger, withLogContext } from "../src/logger";

describe("logger", () => {
  const capture = (level: "debug" | "info" | "warn" = "info") => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level,
      bindings: { service: "test" },
      write: (l) => lines.push(JSON.parse(l)),
    });
    return { lines, logger };
  };

  it("writes one JSON object per line with level, time, message, bindings and context", async () => {
    const { lines, logger } = capture();
    await withLogContext({ requestId: "r-1" }, async () => {
      logger.child({ component: "c" }).info("hello", { n: 1 });
    });
    expect(lines).toEqual([
      {
        level: "info",
        time: expect.any(String),
        message: "hello",
        service: "test",
        component: "c",
        requestId: "r-1",
        n: 1,
      },
    ]);
  });

  it("drops lines below its level", () => {
    const { lines, logger } = capture("warn");
    logger.info("quiet");
    logger.warn("loud");
    expect(lines.map((line) => line.message)).toEqual(["loud"]);
  });

  it("redacts credentials however deep they are, and serialises errors without leaking fields", () => {
    const { lines, logger } = capture();
    logger.error("boom", {
      user: { email: "a@b.c", password: "p", passwordHash: "$2b$10$x" },
      headers: { authorization: "Bearer t" },
      list: [{ token: "t" }],
      error: new Error("bad", { cause: new Error("root") }),
    });
    expect(lines[0]).toMatchObject({
      user: { email: "a@b.c", password: "[redacted]", passwordHash: "[redacted]" },
      headers: { authorization: "[redacted]" },
      list: [{ token: "[redacted]" }],
      error: { name: "Error", message: "bad", cause: { name: "Error", message: "root" } },
    });
  });
});
