/**
 * `npm run bench`: throughput, latency and CPU cost per request of the embedded runtime, plus the
 * Lambda bundles' sizes and module init times. The runtime is started exactly as `npm start`
 * starts it (its own processes, a throwaway data directory, logs to a file); the load comes from
 * autocannon in this process, never from inside the servers. CPU per request is read from /proc
 * for every process of the runtime and for PostgreSQL: on a shared machine rates and latencies
 * follow the neighbours' load far more than the CPU a request costs does (that still rises
 * somewhat on a busy machine, and when a workload runs slowly, since fewer requests share each
 * wake-up of a process; the report gives the load average).
 *
 * Options (environment): BENCH_DURATION seconds per round (10), BENCH_ROUNDS (3, the median is
 * reported), BENCH_CONNECTIONS (16), BENCH_RATE (requests per second over all connections
 * together, for the autocannon workloads; unset: as fast as they answer), BENCH_ONLY
 * (comma-separated beginnings of workload names),
 * BENCH_BUNDLES=0 to skip the bundles.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isolatedRuntimeEnv } from "@platform/local";
import autocannon, { type Request, type Result } from "autocannon";
import { type BundleFigures, measureBundles } from "./bench/bundles";
import { type CpuSample, cpuDelta, sampleCpu } from "./bench/proc";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const setting = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};
const DURATION = setting("BENCH_DURATION", 10);
const ROUNDS = setting("BENCH_ROUNDS", 3);
const CONNECTIONS = setting("BENCH_CONNECTIONS", 16);
/**
 * A fixed request rate makes CPU per request comparable between workloads and runs: the fewer
 * requests a second, the more each pays for its processes waking up.
 */
const RATE = process.env.BENCH_RATE === undefined ? undefined : setting("BENCH_RATE", 1);
const ONLY = process.env.BENCH_ONLY?.split(",").map((name) => name.trim());
const READY_USERS = 50;
/** Concurrent logins in the "…logins at once" workloads (the reproduction used 20). */
const BUSY_LOGINS = 20;
/** Registrations arrive at uniformly random moments over this window (about 5 a second). */
const READY_WINDOW_MS = 10_000;
const PASSWORD = "benchmark password";

/** Role of a runtime process: its title (`platform:<role>`); anything else is a helper (tsx's esbuild). */
function classify(comm: string): string {
  return comm.startsWith("platform:") ? comm : "other";
}

interface Runtime {
  process: ChildProcess;
  usersUrl: string;
  walletUrl: string;
  logFile: string;
  stop(): Promise<void>;
}

/** Starts `packages/local/src/main.ts` (what `npm start` runs) and waits for its banner. */
async function startRuntime(dataDir: string): Promise<Runtime> {
  const logFile = path.join(dataDir, "runtime.log");
  const log = await open(logFile, "a");
  const child = spawn(process.execPath, ["--import", "tsx", "packages/local/src/main.ts"], {
    cwd: root,
    env: {
      // The bench is one client hammering one account: the per-client rate limits, and the login
      // throttle's bound on one client's attempts in flight on one account, would answer most of
      // it 429, which is their job (the tests check it). Here they stay out of the way, while
      // every login still pays for the throttle's reservation and settlement.
      LOGIN_RATE_LIMIT: "1000000",
      REGISTER_RATE_LIMIT: "1000000",
      LOGIN_FREE_FAILURES: "100",
      LOGIN_ACCOUNT_MAX_FAILURES: "100000",
      ...process.env,
      ...isolatedRuntimeEnv(dataDir),
    },
    // A file, not a pipe: a reader that falls behind would block the runtime's log writes.
    stdio: ["ignore", log.fd, log.fd],
  });
  await log.close();
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code) => reject(new Error(`the runtime exited (${code}); see ${logFile}`))),
  );
  const deadline = Date.now() + 120_000;
  for (;;) {
    const text = await readFile(logFile, "utf8");
    const users = /users API\s+(http:\/\/\S+)/.exec(text)?.[1];
    const wallet = /wallet API\s+(http:\/\/\S+)/.exec(text)?.[1];
    if (users && wallet) {
      return {
        process: child,
        usersUrl: users,
        walletUrl: wallet,
        logFile,
        stop: async () => {
          const done = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          await done;
        },
      };
    }
    if (Date.now() > deadline) throw new Error(`the runtime did not start in time; see ${logFile}`);
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
  }
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

async function expectStatus(response: Response, status: number, what: string): Promise<unknown> {
  const body: unknown = await response.json().catch(() => undefined);
  if (response.status !== status) throw new Error(`${what}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

interface BenchUser {
  token: string;
  userId: string;
}

async function registerUser(runtime: Runtime, label: string): Promise<BenchUser> {
  const response = await fetch(
    `${runtime.usersUrl}/v1/auth/register`,
    json({
      firstName: "Bench",
      lastName: label,
      email: `${label}.${randomUUID()}@example.com`,
      password: PASSWORD,
    }),
  );
  const body = (await expectStatus(response, 201, `register ${label}`)) as {
    accessToken: string;
    user: { id: string };
  };
  return { token: body.accessToken, userId: body.user.id };
}

async function waitForWallet(runtime: Runtime, token: string, pollMs: number): Promise<void> {
  for (;;) {
    const response = await fetch(`${runtime.walletUrl}/v1/wallet/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await response.arrayBuffer();
    if (response.status === 200) return;
    if (response.status !== 503) throw new Error(`wallet status answered ${response.status}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Transfers of 1 from `payer(n)` to `payee(n)` for the n-th request, each with a new key: the
 * sender's token and the body change per request (autocannon rebuilds each one).
 */
function transfers(
  prefix: string,
  users: BenchUser[],
  payer: (n: number) => number,
  payee: (n: number) => number,
): Request[] {
  let next = 0;
  return [
    {
      method: "POST",
      path: "/v1/transfers",
      setupRequest: (built) => {
        next += 1;
        const from = users[payer(next) % users.length] as BenchUser;
        const to = users[payee(next) % users.length] as BenchUser;
        return {
          ...built,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${from.token}`,
            "idempotency-key": `${prefix}-${next}`,
          },
          body: JSON.stringify({ toUserId: to.userId, amountMinor: 1 }),
        };
      },
    },
  ];
}

/** Requests whose Idempotency-Key is new every time (autocannon rebuilds each request). */
function uniqueKeys(prefix: string, request: Request): Request[] {
  let next = 0;
  return [
    {
      ...request,
      setupRequest: (built) => {
        next += 1;
        return { ...built, headers: { ...built.headers, "idempotency-key": `${prefix}-${next}` } };
      },
    },
  ];
}

interface Workload {
  name: string;
  /** The CPU targets apply to these. */
  target?: { nodeMs?: number; postgresMs?: number };
  run(round: number, duration: number): Promise<Measured>;
}

interface Measured {
  requests: number;
  seconds: number;
  p50: number;
  p95?: number;
  p99: number;
  statuses: Record<string, number>;
}

interface RoundResult extends Measured {
  cpu: Map<string, { ms: number; processes: number }>;
}

function fromAutocannon(result: Result): Measured {
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats).map(([status, { count }]) => [status, count]),
  );
  if (result.errors > 0) statuses.errors = result.errors;
  return {
    requests: Object.values(result.statusCodeStats).reduce((sum, { count }) => sum + count, 0),
    seconds: result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
  };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
};
const median = (values: number[]) => percentile(values, 0.5);

function load(url: string, request: Request | Request[], duration: number): Promise<Measured> {
  const requests = Array.isArray(request) ? request : [request];
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests,
    ...(RATE === undefined ? {} : { overallRate: RATE }),
  }).then(fromAutocannon);
}

/** The machine's 1-minute load average when the run began: other work skews rates and latencies. */
const loadAtStart = loadavg()[0] ?? 0;

async function main() {
  const startedAt = new Date();
  const bundles: BundleFigures[] =
    process.env.BENCH_BUNDLES === "0"
      ? []
      : await measureBundles(root).catch((error: unknown) => {
          throw new Error("measuring the bundles failed", { cause: error });
        });

  const dataDir = await mkdtemp(path.join(tmpdir(), "platform-bench-"));
  await chmod(dataDir, 0o755); // PostgreSQL runs as `postgres` when this runs as root
  const runtime = await startRuntime(dataDir);
  const rootPid = runtime.process.pid;
  if (rootPid === undefined) throw new Error("the runtime has no pid");
  const results = new Map<string, RoundResult[]>();
  let failed = false;
  try {
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const [shallow, deep, creditor, debtor] = (
      await Promise.all(
        ["shallow", "deep", "creditor", "debtor"].map((label) => registerUser(runtime, label)),
      )
    ).map((user) => user.token);
    if (!shallow || !deep || !creditor || !debtor) throw new Error("registration failed");
    // Sixteen wallets that pay each other round the circle, funded first.
    const circle = await Promise.all(
      Array.from({ length: 16 }, (_, i) => registerUser(runtime, `circle${i}`)),
    );
    for (const token of [shallow, deep, creditor, debtor, ...circle.map((user) => user.token)]) {
      await waitForWallet(runtime, token, 20);
    }
    const credit = (token: string, amountMinor: number) =>
      fetch(
        `${runtime.walletUrl}/v1/transactions/credit`,
        json({ amountMinor }, { ...auth(token), "idempotency-key": randomUUID() }),
      ).then((response) => expectStatus(response, 201, "credit"));
    for (let i = 0; i < 10; i += 1) await credit(shallow, 100);
    await credit(debtor, 1_000_000_000_000);
    for (const user of circle) await credit(user.token, 1_000_000_000);
    // 10 000 entries through the API itself, so the seed follows whatever the ledger's rules are.
    const seeded = await autocannon({
      url: runtime.walletUrl,
      connections: CONNECTIONS,
      amount: 10_000,
      requests: uniqueKeys("seed", {
        method: "POST",
        path: "/v1/transactions/credit",
        headers: { "content-type": "application/json", ...auth(deep) },
        body: JSON.stringify({ amountMinor: 1 }),
      }),
    });
    if (seeded.statusCodeStats["201"]?.count !== 10_000) {
      throw new Error(`seeding the deep wallet: ${JSON.stringify(seeded.statusCodeStats)}`);
    }
    const loginEmail = `login.${randomUUID()}@example.com`;
    await expectStatus(
      await fetch(
        `${runtime.usersUrl}/v1/auth/register`,
        json({ firstName: "Bench", lastName: "Login", email: loginEmail, password: PASSWORD }),
      ),
      201,
      "register the login user",
    );

    /**
     * Runs `measure` while BUSY_LOGINS clients log in back to back with unknown emails (each a
     * bcrypt comparison against the dummy hash): what the users process's event loop, and the
     * machine, have to spare for everyone else meanwhile.
     */
    const whileLoggingIn = async (measure: () => Promise<Measured>): Promise<Measured> => {
      let busy = true;
      const loginLoop = async () => {
        while (busy) {
          const response = await fetch(
            `${runtime.usersUrl}/v1/auth/login`,
            json({ email: `nobody.${randomUUID()}@example.com`, password: PASSWORD }),
          );
          await response.arrayBuffer();
        }
      };
      const loops = Array.from({ length: BUSY_LOGINS }, loginLoop);
      try {
        return await measure();
      } finally {
        busy = false;
        await Promise.all(loops);
      }
    };

    const all: Workload[] = [
      {
        name: "GET /v1/balance, 10 entries",
        target: { nodeMs: 0.15 },
        run: (_round, duration) =>
          load(runtime.walletUrl, { method: "GET", path: "/v1/balance", headers: auth(shallow) }, duration),
      },
      {
        name: "GET /v1/balance, 10 000 entries",
        target: { nodeMs: 0.15 },
        run: (_round, duration) =>
          load(runtime.walletUrl, { method: "GET", path: "/v1/balance", headers: auth(deep) }, duration),
      },
      {
        name: "GET /v1/transactions?limit=20, 10 000 entries",
        run: (_round, duration) =>
          load(
            runtime.walletUrl,
            { method: "GET", path: "/v1/transactions?limit=20", headers: auth(deep) },
            duration,
          ),
      },
      {
        name: "POST /v1/transactions/credit, one user, unique keys",
        target: { nodeMs: 0.35, postgresMs: 0.9 },
        run: (round, duration) =>
          load(
            runtime.walletUrl,
            uniqueKeys(`credit-${round}`, {
              method: "POST",
              path: "/v1/transactions/credit",
              headers: { "content-type": "application/json", ...auth(creditor) },
              body: JSON.stringify({ amountMinor: 1 }),
            }),
            duration,
          ),
      },
      {
        name: "POST /v1/transactions/debit, one user, unique keys",
        run: (round, duration) =>
          load(
            runtime.walletUrl,
            uniqueKeys(`debit-${round}`, {
              method: "POST",
              path: "/v1/transactions/debit",
              headers: { "content-type": "application/json", ...auth(debtor) },
              body: JSON.stringify({ amountMinor: 1 }),
            }),
            duration,
          ),
      },
      {
        name: "POST /v1/transfers, 16 users paying the next one",
        run: (round, duration) =>
          load(
            runtime.walletUrl,
            transfers(
              `circle-${round}`,
              circle,
              (n) => n,
              (n) => n + 1,
            ),
            duration,
          ),
      },
      {
        name: "POST /v1/transfers, one pair both ways",
        run: (round, duration) =>
          load(
            runtime.walletUrl,
            transfers(
              `pair-${round}`,
              circle.slice(0, 2),
              (n) => n,
              (n) => n + 1,
            ),
            duration,
          ),
      },
      {
        name: `GET /v1/users/me, ${BUSY_LOGINS} logins with random emails at once`,
        run: (_round, duration) =>
          whileLoggingIn(() =>
            load(runtime.usersUrl, { method: "GET", path: "/v1/users/me", headers: auth(shallow) }, duration),
          ),
      },
      {
        name: `GET /v1/balance, ${BUSY_LOGINS} logins with random emails at once`,
        run: (_round, duration) =>
          whileLoggingIn(() =>
            load(runtime.walletUrl, { method: "GET", path: "/v1/balance", headers: auth(shallow) }, duration),
          ),
      },
      {
        name: "POST /v1/auth/login",
        run: (_round, duration) =>
          load(
            runtime.usersUrl,
            {
              method: "POST",
              path: "/v1/auth/login",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ email: loginEmail, password: PASSWORD }),
            },
            duration,
          ),
      },
      {
        name: `register → wallet ready, ${READY_USERS} users, jittered`,
        run: async () => {
          const latencies: number[] = [];
          const started = performance.now();
          await Promise.all(
            Array.from({ length: READY_USERS }, async () => {
              await new Promise((resolve) => setTimeout(resolve, Math.random() * READY_WINDOW_MS));
              const t0 = performance.now();
              const { token } = await registerUser(runtime, "ready");
              await waitForWallet(runtime, token, 5);
              latencies.push(performance.now() - t0);
            }),
          );
          return {
            requests: latencies.length,
            seconds: (performance.now() - started) / 1000,
            p50: percentile(latencies, 0.5),
            p95: percentile(latencies, 0.95),
            p99: percentile(latencies, 0.99),
            statuses: { ready: latencies.length },
          };
        },
      },
    ];
    const workloads = all.filter((workload) => !ONLY || ONLY.some((name) => workload.name.startsWith(name)));

    for (const workload of workloads) {
      // A short unmeasured run warms the JIT, the pools and PostgreSQL's caches.
      if (!workload.name.startsWith("register")) await workload.run(-1, Math.min(2, DURATION));
      const rounds: RoundResult[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        const before: CpuSample = sampleCpu(rootPid, classify);
        const measured = await workload.run(round, DURATION);
        const after: CpuSample = sampleCpu(rootPid, classify);
        rounds.push({ ...measured, cpu: cpuDelta(before, after) });
      }
      results.set(workload.name, rounds);
      process.stderr.write(`bench: ${workload.name} done\n`);
    }

    process.stdout.write(report(startedAt, workloads, results, bundles));
  } catch (error) {
    failed = true;
    process.stderr.write(`bench failed; the runtime's log is kept in ${runtime.logFile}\n`);
    throw error;
  } finally {
    await runtime.stop();
    if (!failed) await rm(dataDir, { recursive: true, force: true });
  }
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : "–");

function report(
  startedAt: Date,
  workloads: Workload[],
  results: Map<string, RoundResult[]>,
  bundles: BundleFigures[],
): string {
  const roles = [
    ...new Set([...results.values()].flatMap((rounds) => rounds.flatMap((r) => [...r.cpu.keys()]))),
  ]
    .filter((role) => role.startsWith("platform:"))
    .sort();
  const perRequest = (round: RoundResult, role: string) => (round.cpu.get(role)?.ms ?? 0) / round.requests;
  const nodePerRequest = (round: RoundResult) =>
    roles.reduce((sum, role) => sum + perRequest(round, role), 0);
  const processes = (role: string) =>
    Math.max(
      ...[...results.values()].flatMap((rounds) => rounds.map((r) => r.cpu.get(role)?.processes ?? 0)),
    );
  const roleNames = roles.map((role) => `${role.slice("platform:".length)}×${processes(role)}`).join(" + ");

  const settings = [
    "BENCH_DURATION",
    "BENCH_ROUNDS",
    "BENCH_CONNECTIONS",
    "BENCH_RATE",
    "BENCH_ONLY",
    "BENCH_BUNDLES",
    "BCRYPT_WORKERS",
  ]
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${JSON.stringify(process.env[name])} `)
    .join("");
  const lines = [
    `\`${settings}npm run bench\``,
    "",
    `${startedAt.toISOString().slice(0, 10)}, Node ${process.version}, ${availableParallelism()} cores, ` +
      `${CONNECTIONS} connections, ${DURATION} s × ${ROUNDS} rounds (median); ` +
      `load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
    "",
    `| workload | req/s | p50 ms | p99 ms | CPU ms/request: Node (${roleNames}) | PostgreSQL | statuses |`,
    "|---|---|---|---|---|---|---|",
  ];
  const checks: string[] = [];
  for (const workload of workloads) {
    const rounds = results.get(workload.name) ?? [];
    const rate = median(rounds.map((r) => r.requests / r.seconds));
    const p50 = median(rounds.map((r) => r.p50));
    const p95 = median(rounds.map((r) => r.p95 ?? Number.NaN));
    const p99 = median(rounds.map((r) => r.p99));
    const node = median(rounds.map(nodePerRequest));
    const byRole = roles.map((role) => fixed(median(rounds.map((r) => perRequest(r, role))), 3));
    const postgres = median(rounds.map((r) => perRequest(r, "postgres")));
    const statuses = Object.entries(
      rounds.reduce<Record<string, number>>((sum, r) => {
        for (const [status, count] of Object.entries(r.statuses)) sum[status] = (sum[status] ?? 0) + count;
        return sum;
      }, {}),
    )
      .map(([status, count]) => `${status}×${count}`)
      .join(" ");
    const latency = Number.isFinite(p95) ? `${fixed(p50, 0)} (p95 ${fixed(p95, 0)})` : fixed(p50, 0);
    lines.push(
      `| ${workload.name} | ${fixed(rate, 0)} | ${latency} | ${fixed(p99, 0)} | ${fixed(node, 3)} (${byRole.join(" + ")}) | ${fixed(postgres, 3)} | ${statuses} |`,
    );
    if (workload.target?.nodeMs !== undefined) {
      checks.push(target(`${workload.name}: Node CPU ms/request`, node, workload.target.nodeMs));
    }
    if (workload.target?.postgresMs !== undefined) {
      checks.push(
        target(`${workload.name}: PostgreSQL CPU ms/request`, postgres, workload.target.postgresMs),
      );
    }
    if (Number.isFinite(p95)) checks.push(target(`${workload.name}: p95 ms`, p95, 250));
  }
  if (bundles.length > 0) {
    lines.push(
      "",
      "| Lambda bundle | minified KiB | module init ms, wall (median of 5) | module init CPU ms (median of 5) |",
      "|---|---|---|---|",
    );
    for (const bundle of bundles) {
      lines.push(
        `| ${bundle.name} | ${fixed(bundle.bytes / 1024, 1)} | ${fixed(bundle.initMs, 1)} | ${fixed(bundle.initCpuMs, 1)} |`,
      );
      checks.push(target(`${bundle.name}: KB`, bundle.bytes / 1000, 250));
      checks.push(target(`${bundle.name}: module init ms`, bundle.initMs, 50));
    }
  }
  lines.push("", "Targets (issue 9):", ...checks.map((check) => `- ${check}`), "");
  return lines.join("\n");
}

function target(what: string, value: number, limit: number): string {
  return `${value <= limit ? "met" : "MISSED"}: ${what} ${fixed(value, 3)} (≤ ${limit})`;
}

await main();
