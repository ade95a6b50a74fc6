import { createHash } from "node:crypto";
import path from "node:path";
import type { Context, Hono, Env as HonoEnv } from "hono";

/**
 * The page's own policy: everything from this origin, nothing inline, nothing from elsewhere.
 * Swagger UI's stylesheet draws its icons as `data:` images; "Try it out" calls this origin.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The files of swagger-ui-dist the page loads; nothing else of the package is served. */
export const SWAGGER_UI_ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
} as const;

type AssetName = keyof typeof SWAGGER_UI_ASSETS;

// In a file rather than inline, so the policy needs no 'unsafe-inline'. The online validator's
// badge is off: it would load an image from validator.swagger.io.
const INITIALIZER = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "./openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null });
});
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

// Relative URLs: the page at /docs loads /docs/…, and at /wallet/docs (behind the shared API
// Gateway) /wallet/docs/…, with no knowledge of the prefix.
function page(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-initializer.js"></script>
</body>
</html>
`;
}

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

/**
 * zlib, the file reads and module resolution are imported here, on the first request for a docs
 * file: loading them cost every cold start about 2 ms, and most cold starts serve no docs.
 */
async function prepare(body: Buffer): Promise<Asset> {
  const { gzipSync } = await import("node:zlib");
  const digest = createHash("sha256").update(body).digest("base64url").slice(0, 27);
  return { body, gzipped: gzipSync(body), etag: `"${digest}"` };
}

/**
 * A file of swagger-ui-dist, from the directory configured (a Lambda bundle carries a copy), else
 * from the npm package next to the code.
 */
async function readAsset(configured: string | undefined, name: AssetName): Promise<Buffer> {
  const [{ readFile }, { createRequire }] = await Promise.all([
    import("node:fs/promises"),
    import("node:module"),
  ]);
  const directory = configured
    ? path.resolve(configured)
    : path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  return readFile(path.join(directory, name));
}

/** An asset with caching and compression: the bundle is 1.7 MB, about 0.5 MB gzipped. */
function send<E extends HonoEnv>(
  c: Context<E>,
  asset: Asset,
  contentType: string,
  maxAgeSeconds: number,
): Response {
  const headers: Record<string, string> = {
    "Content-Type": contentType,
    "Cache-Control": `public, max-age=${maxAgeSeconds}`,
    ETag: asset.etag,
    Vary: "Accept-Encoding",
  };
  if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
  const gzip = /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
  const body = gzip ? asset.gzipped : asset.body;
  return c.body(new Uint8Array(body), 200, gzip ? { ...headers, "Content-Encoding": "gzip" } : headers);
}

/**
 * Swagger UI at /docs, served entirely by the service from the pinned swagger-ui-dist package:
 * the page renders with no internet and under a policy that allows only this origin.
 */
export function mountSwaggerUi<E extends HonoEnv>(
  app: Hono<E>,
  options: { title: string; assetsDir: string | undefined },
) {
  const html = page(options.title);
  const assets = new Map<AssetName | "swagger-initializer.js", Promise<Asset>>();
  // Made on first use, then kept: a cold start that serves no docs never pays for them.
  const load = (name: AssetName | "swagger-initializer.js") => {
    let asset = assets.get(name);
    if (!asset) {
      asset = (
        name === "swagger-initializer.js"
          ? Promise.resolve(Buffer.from(INITIALIZER))
          : readAsset(options.assetsDir, name)
      ).then(prepare);
      asset.catch(() => assets.delete(name));
      assets.set(name, asset);
    }
    return asset;
  };

  app.get("/docs", (c) =>
    c.html(html, 200, {
      "Content-Security-Policy": DOCS_CONTENT_SECURITY_POLICY,
      "Cache-Control": "no-cache",
    }),
  );
  app.get("/docs/swagger-initializer.js", async (c) =>
    send(c, await load("swagger-initializer.js"), "text/javascript; charset=utf-8", 3600),
  );
  for (const [name, contentType] of Object.entries(SWAGGER_UI_ASSETS) as [AssetName, string][]) {
    app.get(`/docs/${name}`, async (c) => send(c, await load(name), contentType, 86_400));
  }
}
