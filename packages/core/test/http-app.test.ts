import { randomUUID } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DOCS_CONTENT_SECURITY_POLICY } from "../src/http/docs";
import {
  authenticatedUserId,
  type CorsConfig,
  createLogger,
  createServiceApp,
  createTokenService,
  requireAuth,
} from "../src/index";

const tokens = createTokenService({
  secret: "test-secret-test-secret-test-secret",
  issuer: "urn:test:iss",
  audience: "urn:test:aud",
  ttlSeconds: 60,
});
const APP_ORIGIN = "https://app.example.com";

/** A service app as the users and wallet services build theirs, with one open and one guarded route. */
function service(cors: CorsConfig = { allowedOrigins: [], maxAgeSeconds: 600 }, swaggerUiDir?: string) {
  const lines: string[] = [];
  const app = createServiceApp({
    title: "Test <API>",
    version: "1.0.0",
    logger: createLogger({ level: "error", write: (line) => lines.push(line) }),
    http: { cors, swaggerUiDir },
    health: {},
    routes: (target) => {
      target.post("/v1/token", (c) => c.json({ accessToken: "token", expiresIn: 60 }, 200));
      target.use("/v1/private", requireAuth(tokens));
      target.get("/v1/private", (c) => c.json({ userId: authenticatedUserId(c) }, 200));
    },
  });
  return { app, lines };
}

const preflight = (origin: string) => ({
  method: "OPTIONS",
  headers: {
    origin,
    "access-control-request-method": "GET",
    "access-control-request-headers": "authorization",
  },
});

const corsHeaders = (response: Response) =>
  [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));

describe("CORS", () => {
  const open = service({ allowedOrigins: [APP_ORIGIN, "http://localhost:5173"], maxAgeSeconds: 900 }).app;

  it("answers a configured origin's preflight before authentication", async () => {
    const response = await open.request("/v1/private", preflight(APP_ORIGIN));
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(response.headers.get("access-control-allow-methods")).toBe("GET,POST");
    expect(response.headers.get("access-control-allow-headers")?.split(",")).toEqual(
      expect.arrayContaining(["Authorization", "Content-Type", "Idempotency-Key"]),
    );
    expect(response.headers.get("access-control-max-age")).toBe("900");
    expect(response.headers.get("vary")).toContain("Origin");
  });

  it("lets a configured origin read the response and the headers a client needs", async () => {
    const { accessToken } = await tokens.issue(randomUUID());
    const response = await open.request("/v1/private", {
      headers: { origin: APP_ORIGIN, authorization: `Bearer ${accessToken}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(response.headers.get("access-control-expose-headers")?.split(",")).toEqual(
      expect.arrayContaining(["Retry-After", "Idempotent-Replayed", "X-Request-Id"]),
    );
    expect(response.headers.get("vary")).toContain("Origin");
    // Never credentials mode: the API authenticates with a bearer token, not cookies.
    expect(response.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("gives any other origin nothing: a bare 204 to its preflight, no CORS header on responses", async () => {
    const refused = await open.request("/v1/private", preflight("https://evil.example"));
    expect(refused.status).toBe(204);
    expect(corsHeaders(refused)).toEqual([]);
    const response = await open.request("/health/live", { headers: { origin: "https://evil.example" } });
    expect(response.status).toBe(200);
    expect(corsHeaders(response)).toEqual([]);
  });

  it("is closed by default: no origin gets a CORS header", async () => {
    const closed = service().app;
    for (const origin of [APP_ORIGIN, "null", "http://localhost:3000"]) {
      const answer = await closed.request("/v1/private", preflight(origin));
      expect(answer.status).toBe(204);
      expect(corsHeaders(answer)).toEqual([]);
      expect(answer.headers.get("vary")).toBeNull();
    }
    const response = await closed.request("/health/live", { headers: { origin: APP_ORIGIN } });
    expect(corsHeaders(response)).toEqual([]);
  });

  it("still authenticates the real request after a preflight", async () => {
    const response = await open.request("/v1/private", { headers: { origin: APP_ORIGIN } });
    expect(response.status).toBe(401);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
  });
});

const BROWSER_HARDENING = [
  "cross-origin-resource-policy",
  "cross-origin-opener-policy",
  "origin-agent-cluster",
  "referrer-policy",
  "strict-transport-security",
  "x-dns-prefetch-control",
  "x-download-options",
  "x-permitted-cross-domain-policies",
  "x-xss-protection",
];

describe("security headers", () => {
  const { app } = service();

  it.each([
    ["a JSON answer", "/v1/token", "POST", 200],
    ["an authentication failure", "/v1/private", "GET", 401],
    ["an unknown route", "/nowhere", "GET", 404],
    ["the OpenAPI document", "/openapi.json", "GET", 200],
  ])(
    "%s carries a CSP that allows nothing, refuses framing and is never cached",
    async (_what, path, method, status) => {
      const response = await app.request(path, { method });
      expect(response.status).toBe(status);
      expect(response.headers.get("content-security-policy")).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
      expect(response.headers.get("x-frame-options")).toBe("DENY");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("cache-control")).toBe("no-store");
      // The rest of the browser hardening Hono's secureHeaders sets by default.
      expect(Object.fromEntries(BROWSER_HARDENING.map((name) => [name, response.headers.get(name)]))).toEqual(
        {
          "cross-origin-resource-policy": "same-origin",
          "cross-origin-opener-policy": "same-origin",
          "origin-agent-cluster": "?1",
          "referrer-policy": "no-referrer",
          "strict-transport-security": "max-age=15552000; includeSubDomains",
          "x-dns-prefetch-control": "off",
          "x-download-options": "noopen",
          "x-permitted-cross-domain-policies": "none",
          "x-xss-protection": "0",
        },
      );
    },
  );
});

describe("Swagger UI at /docs", () => {
  const { app } = service();
  const base = "https://api.example.com/docs";

  it("is a page with nothing inline, under a policy that allows only this origin", async () => {
    const response = await app.request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    expect(response.headers.get("content-security-policy")).toBe(DOCS_CONTENT_SECURITY_POLICY);
    expect(DOCS_CONTENT_SECURITY_POLICY).not.toMatch(/unsafe|https?:|\*/);
    const html = await response.text();
    expect(html).toContain("<title>Test &#60;API&#62;</title>");
    // No inline script, style element, style attribute or event handler: 'self' must suffice.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(references.filter((ref) => !ref.startsWith("data:"))).toEqual([
      "docs/swagger-ui.css",
      "docs/swagger-ui-bundle.js",
      "docs/swagger-initializer.js",
    ]);
    for (const reference of references) {
      const url = new URL(reference, base);
      if (url.protocol === "data:") continue;
      expect(url.origin).toBe("https://api.example.com");
      const asset = await app.request(url.pathname);
      expect(asset.status, url.pathname).toBe(200);
      expect(asset.headers.get("content-type"), url.pathname).toMatch(/^text\/(css|javascript)/);
      expect(asset.headers.get("cache-control"), url.pathname).toMatch(/^public, max-age=\d+$/);
    }
  });

  it("finds its files relative to the page, so it works under a gateway's prefix", () => {
    expect(new URL("docs/swagger-ui-bundle.js", "https://api.example.com/wallet/docs").pathname).toBe(
      "/wallet/docs/swagger-ui-bundle.js",
    );
  });

  it("serves Swagger UI from the pinned npm package, starting it on this service's document", async () => {
    const initializer = await (await app.request("/docs/swagger-initializer.js")).text();
    expect(initializer).toContain('url: "./openapi.json"');
    // The online validator's badge would load an image from validator.swagger.io.
    expect(initializer).toContain("validatorUrl: null");
    const bundle = await app.request("/docs/swagger-ui-bundle.js");
    expect(await bundle.text()).toContain("SwaggerUIBundle");
    // The stylesheet's images are data: URLs (img-src data:), never fetched from elsewhere.
    const css = await (await app.request("/docs/swagger-ui.css")).text();
    const urls = [...css.matchAll(/url\(\s*["']?([^"')]+)/g)].map((match) => match[1] as string);
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.filter((url) => !url.startsWith("data:"))).toEqual([]);
    expect(css).not.toMatch(/@import|@font-face/);
  });

  it("compresses and revalidates the 1.7 MB bundle", async () => {
    const plain = await app.request("/docs/swagger-ui-bundle.js");
    const body = Buffer.from(await plain.arrayBuffer());
    const zipped = await app.request("/docs/swagger-ui-bundle.js", {
      headers: { "accept-encoding": "gzip, br" },
    });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    const compressed = Buffer.from(await zipped.arrayBuffer());
    expect(compressed.length).toBeLessThan(body.length / 2);
    expect(gunzipSync(compressed).equals(body)).toBe(true);
    const etag = plain.headers.get("etag");
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await app.request("/docs/swagger-ui-bundle.js", {
      headers: { "if-none-match": String(etag) },
    });
    expect(again.status).toBe(304);
  });

  it("answers a 500 problem, and logs why, when its files are missing", async () => {
    const broken = service(undefined, "/nonexistent/swagger-ui");
    expect((await broken.app.request("/docs")).status).toBe(200);
    const asset = await broken.app.request("/docs/swagger-ui.css");
    expect(asset.status).toBe(500);
    expect(asset.headers.get("content-type")).toBe("application/problem+json");
    expect(broken.lines.join("\n")).toContain("ENOENT");
  });
});
