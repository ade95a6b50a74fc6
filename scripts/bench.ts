/**
 * `npm run bench`: latency and throughput of the main routes on the embedded runtime (real
 * PostgreSQL, real HTTP over loopback), in a throwaway data directory. Prints a Markdown table;
 * the README's figures come from here. Options: BENCH_SCALE (default 1) multiplies request counts.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@platform/core";
import { startLocalRuntime } from "@platform/local";

interface Result {
  name: string;
  requests: number;
  concurrency: number;
  seconds: number;
  latencies: number[];
  statuses: Map<number, number>;
}

const scale = Number(process.env.BENCH_SCALE ?? "1");

async function run(
  name: string,
  requests: number,
  concurrency: number,
  send: (i: number) => Promise<Response>,
): Promise<Result> {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const i = next++;
        const t0 = performance.now();
        const response = await send(i);
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    }),
  );
  return { name, requests, concurrency, seconds: (performance.now() - started) / 1000, latencies, statuses };
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

function row(result: Result): string {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const statuses = [...result.statuses].map(([status, count]) => `${status}×${count}`).join(" ");
  return `| ${result.name} | ${result.requests} | ${result.concurrency} | ${(result.requests / result.seconds).toFixed(0)} | ${percentile(sorted, 0.5).toFixed(1)} | ${percentile(sorted, 0.95).toFixed(1)} | ${percentile(sorted, 0.99).toFixed(1)} | ${statuses} |`;
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

const dataDir = await mkdtemp(path.join(tmpdir(), "platform-bench-"));
await chmod(dataDir, 0o755);
const runtime = await startLocalRuntime(
  {
    DATA_DIR: dataDir,
    USERS_PORT: "0",
    WALLET_PORT: "0",
    EMBEDDED_PG_PORT: "0",
    SQS_PORT: "0",
    LOG_LEVEL: "silent",
  },
  { logger: createLogger({ level: "silent" }) },
);

try {
  const users = runtime.usersUrl;
  const n = (count: number) => Math.max(1, Math.round(count * scale));
  const results: Result[] = [];
  const password = "benchmark password";
  const emails = Array.from({ length: n(200) }, (_, i) => `bench.${i}@example.com`);

  results.push(
    await run("POST /v1/auth/register", emails.length, 8, (i) =>
      fetch(`${users}/v1/auth/register`, json({ firstName: "B", lastName: "M", email: emails[i], password })),
    ),
  );
  const tokens: string[] = [];
  results.push(
    await run("POST /v1/auth/login", emails.length, 8, async (i) => {
      const response = await fetch(`${users}/v1/auth/login`, json({ email: emails[i], password }));
      const clone = response.clone();
      tokens[i] = ((await clone.json()) as { accessToken: string }).accessToken;
      return response;
    }),
  );
  results.push(
    await run("GET /v1/users/me", n(4000), 32, (i) =>
      fetch(`${users}/v1/users/me`, { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } }),
    ),
  );

  const wallet = runtime.walletUrl;
  const auth = (i: number) => ({ authorization: `Bearer ${tokens[i % tokens.length]}` });

  // Register -> wallet ready: the whole event path (outbox, eager publish, queue, provisioner).
  const readyLatencies: number[] = [];
  for (let i = 0; i < n(50); i += 1) {
    const t0 = performance.now();
    const registered = await fetch(
      `${users}/v1/auth/register`,
      json({ firstName: "R", lastName: "T", email: `ready.${i}@example.com`, password }),
    );
    const { accessToken } = (await registered.json()) as { accessToken: string };
    for (;;) {
      const status = await fetch(`${wallet}/v1/wallet/status`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      await status.arrayBuffer();
      if (status.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    readyLatencies.push(performance.now() - t0);
  }
  results.push({
    name: "register → wallet ready",
    requests: readyLatencies.length,
    concurrency: 1,
    seconds: readyLatencies.reduce((a, b) => a + b, 0) / 1000,
    latencies: readyLatencies,
    statuses: new Map([[200, readyLatencies.length]]),
  });

  // Wait until every benchmark user's wallet exists before measuring the ledger routes.
  for (let i = 0; i < tokens.length; i += 1) {
    for (;;) {
      const status = await fetch(`${wallet}/v1/wallet/status`, { headers: auth(i) });
      await status.arrayBuffer();
      if (status.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  results.push(
    await run("POST /v1/transactions/credit", n(4000), 32, (i) =>
      fetch(
        `${wallet}/v1/transactions/credit`,
        json({ amountMinor: 500 }, { ...auth(i), "idempotency-key": `credit-${i}` }),
      ),
    ),
  );
  results.push(
    await run("POST /v1/transactions/debit", n(4000), 32, (i) =>
      fetch(
        `${wallet}/v1/transactions/debit`,
        json({ amountMinor: 100 }, { ...auth(i), "idempotency-key": `debit-${i}` }),
      ),
    ),
  );
  results.push(
    await run("POST credit, replayed key", n(2000), 32, (i) =>
      fetch(
        `${wallet}/v1/transactions/credit`,
        json({ amountMinor: 500 }, { ...auth(i), "idempotency-key": `credit-${i}` }),
      ),
    ),
  );
  results.push(
    await run("GET /v1/balance", n(4000), 32, (i) => fetch(`${wallet}/v1/balance`, { headers: auth(i) })),
  );
  results.push(
    await run("GET /v1/transactions?limit=20", n(4000), 32, (i) =>
      fetch(`${wallet}/v1/transactions?limit=20`, { headers: auth(i) }),
    ),
  );
  // Each user pays the next one: two row locks per transfer, different pairs never wait.
  const userIds = tokens.map(
    (token) => JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()).sub as string,
  );
  results.push(
    await run("POST /v1/transfers", n(4000), 32, (i) =>
      fetch(
        `${wallet}/v1/transfers`,
        json(
          { toUserId: userIds[(i + 1) % userIds.length], amountMinor: 1 },
          { ...auth(i), "idempotency-key": `transfer-${i}` },
        ),
      ),
    ),
  );
  // One pair in both directions at once: every transfer locks the same two rows, in user-id order.
  results.push(
    await run("POST /v1/transfers, one pair both ways", n(2000), 32, (i) =>
      fetch(
        `${wallet}/v1/transfers`,
        json(
          { toUserId: userIds[(i + 1) % 2], amountMinor: 1 },
          { ...auth(i % 2), "idempotency-key": `pair-${i}` },
        ),
      ),
    ),
  );
  // One hot wallet: every debit contends for the same row lock.
  results.push(
    await run("POST debit, one hot wallet", n(2000), 32, (i) =>
      fetch(
        `${wallet}/v1/transactions/debit`,
        json({ amountMinor: 1 }, { ...auth(0), "idempotency-key": `hot-${i}` }),
      ),
    ),
  );

  process.stdout.write(
    [
      `Embedded runtime, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, BENCH_SCALE=${scale}`,
      "",
      "| route | requests | concurrency | req/s | p50 ms | p95 ms | p99 ms | statuses |",
      "|---|---|---|---|---|---|---|---|",
      ...results.map(row),
      "",
    ].join("\n"),
  );
} finally {
  await runtime.stop();
  await rm(dataDir, { recursive: true, force: true });
}
