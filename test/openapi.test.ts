import { NO_CONTROL_CHARACTERS_PATTERN } from "@platform/core";
import { createDatabase } from "@platform/db";
import { createUsersRuntime } from "@platform/users";
import { createWalletRuntime } from "@platform/wallet";
import { validate } from "@readme/openapi-parser";
import { afterAll, describe, expect, it } from "vitest";

// The documents need no database: a handle that is never used (its pool connects lazily).
const unused = createDatabase({ driver: "pg", url: "postgres://nobody:none@127.0.0.1:9/none" });
afterAll(() => unused.close());

type Document = {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<
    string,
    Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>
  >;
};

const services = {
  users: () => createUsersRuntime({ LOG_LEVEL: "silent" }, { database: unused }).app,
  wallet: () => createWalletRuntime({ LOG_LEVEL: "silent" }, { database: unused }).app,
};

async function documentOf(service: keyof typeof services): Promise<Document> {
  const response = await services[service]().request("/openapi.json");
  expect(response.status).toBe(200);
  return (await response.json()) as Document;
}

/** Every value of a key anywhere in the document. */
function valuesOf(node: unknown, key: string, found: unknown[] = []): unknown[] {
  if (Array.isArray(node)) for (const item of node) valuesOf(item, key, found);
  else if (node && typeof node === "object") {
    for (const [name, value] of Object.entries(node)) {
      if (name === key) found.push(value);
      valuesOf(value, key, found);
    }
  }
  return found;
}

describe.each(Object.keys(services) as (keyof typeof services)[])("the %s OpenAPI document", (service) => {
  it("is valid OpenAPI 3.1, with no warning from the validator", async () => {
    const document = await documentOf(service);
    expect(document.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(document) as never);
    expect(result).toEqual({ valid: true, warnings: [], specification: "OpenAPI" });
  });

  it("is checked by a validator that does refuse a broken document", async () => {
    const broken = structuredClone(await documentOf(service)) as Record<string, unknown>;
    broken.info = { version: "1.0.0" };
    const result = await validate(broken as never);
    expect(result.valid).toBe(false);
  });

  it("names the server it is served from, relative so it holds locally, on AWS and behind a prefix", async () => {
    expect((await documentOf(service)).servers).toEqual([{ url: "/", description: expect.any(String) }]);
  });

  it("writes every pattern as a flagless ECMA-262 expression (JSON Schema's dialect)", async () => {
    const patterns = valuesOf(await documentOf(service), "pattern");
    for (const pattern of patterns) {
      expect(typeof pattern).toBe("string");
      expect(() => new RegExp(String(pattern), "u"), String(pattern)).not.toThrow();
      // A JavaScript literal's flags copied into the text (`.../u`) would have to match literally.
      expect(String(pattern), String(pattern)).not.toMatch(/\/[dgimsuvy]*$/);
    }
  });

  it("declares Retry-After on every 429 and 503 that asks the client to come back", async () => {
    const document = await documentOf(service);
    const retryable = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        Object.entries(operation.responses ?? {})
          .filter(([status]) => status === "429" || (status === "503" && !path.startsWith("/health")))
          .map(([status, response]) => ({ at: `${method.toUpperCase()} ${path} ${status}`, response })),
      ),
    );
    for (const { at, response } of retryable) expect(response.headers?.["Retry-After"], at).toBeDefined();
    if (service === "users") expect(retryable.map(({ at }) => at)).toContain("POST /v1/auth/login 429");
    if (service === "wallet") expect(retryable.length).toBeGreaterThan(3);
  });
});

describe("the wallet document's description pattern", () => {
  const runtime = /^\P{Cc}*$/u;
  const documented = new RegExp(NO_CONTROL_CHARACTERS_PATTERN, "u");

  it("is the one the document carries", async () => {
    expect(valuesOf(await documentOf("wallet"), "pattern")).toContain(NO_CONTROL_CHARACTERS_PATTERN);
  });

  it("accepts and refuses exactly what the runtime check does, for every code point", () => {
    const disagreements: number[] = [];
    for (let code = 0; code <= 0x10ffff; code += code < 0x10000 ? 1 : 0x101) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const text = `a${String.fromCodePoint(code)}b`;
      if (runtime.test(text) !== documented.test(text)) disagreements.push(code);
    }
    expect(disagreements).toEqual([]);
    expect(documented.test("top-up for café ☕ 🚀")).toBe(true);
    expect(documented.test("line\nbreak")).toBe(false);
    expect(documented.test("escape \u001b[31m")).toBe(false);
  });
});
