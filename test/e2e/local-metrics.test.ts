import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntimeFixture, startLocalRuntimeFixture } from "../support/local";

/**
 * `npm start` serves the counts every Lambda writes as EMF, summed over all its processes, as
 * Prometheus text on /metrics (METRICS_PORT).
 */
describe("npm start's /metrics", () => {
  let local: LocalRuntimeFixture;

  beforeAll(async () => {
    // Two processes per API: the counts of both must add up.
    local = await startLocalRuntimeFixture({ USERS_WORKERS: "2", WALLET_WORKERS: "2" });
  });

  afterAll(async () => {
    await local?.dispose();
  });

  /**
   * One request on a connection of its own: the runtime hands each new connection to the next
   * process of the service in turn, so consecutive requests reach different processes.
   */
  function send(
    url: string,
    options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: options.method ?? "GET",
          agent: false,
          headers: { ...options.headers, ...(body ? { "content-type": "application/json" } : {}) },
        },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk) => {
            text += chunk;
          });
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, text }),
          );
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  }

  /** The value of one sample line, 0 when the series is absent. */
  const sample = (text: string, series: string) => {
    const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  const scrape = async () => {
    const response = await send(local.runtime.metricsUrl);
    expect(response.status, response.text).toBe(200);
    return response;
  };

  it("lists every metric before anything happened", async () => {
    const { headers, text } = await scrape();
    expect(headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    for (const name of [
      "platform_registrations_total",
      "platform_postings_total",
      "platform_idempotency_keys_pruned_total",
      "platform_events_published_total",
      "platform_event_publish_failures_total",
      "platform_event_retries_total",
      "platform_dlq_arrivals_total",
      "platform_relay_lag_seconds",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(sample(text, "platform_registrations_total")).toBe(0);
  });

  it("adds up what every process counted", async () => {
    const users = 6;
    const tokens: string[] = [];
    for (let i = 0; i < users; i++) {
      const registered = await send(`${local.runtime.usersUrl}/v1/auth/register`, {
        method: "POST",
        body: {
          firstName: "Me",
          lastName: "Tric",
          email: `metrics-${i}@example.com`,
          password: "metrics-password",
        },
      });
      expect(registered.status, registered.text).toBe(201);
      tokens.push((JSON.parse(registered.text) as { accessToken: string }).accessToken);
    }
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    // Wallets first: a posting before its wallet exists would count as wallet_provisioning.
    for (const token of tokens) {
      const deadline = Date.now() + 15_000;
      while (
        (await send(`${local.runtime.walletUrl}/v1/wallet/status`, { headers: auth(token) })).status !== 200
      ) {
        if (Date.now() > deadline) throw new Error("a wallet was never provisioned");
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    for (const token of tokens) {
      const credit = await send(`${local.runtime.walletUrl}/v1/transactions/credit`, {
        method: "POST",
        headers: { ...auth(token), "idempotency-key": "first-credit" },
        body: { amountMinor: 100 },
      });
      expect(credit.status).toBe(201);
    }
    const [first = ""] = tokens;
    const replay = await send(`${local.runtime.walletUrl}/v1/transactions/credit`, {
      method: "POST",
      headers: { ...auth(first), "idempotency-key": "first-credit" },
      body: { amountMinor: 100 },
    });
    expect(replay.status).toBe(200);
    const overdraft = await send(`${local.runtime.walletUrl}/v1/transactions/debit`, {
      method: "POST",
      headers: { ...auth(first), "idempotency-key": "too-much" },
      body: { amountMinor: 1_000 },
    });
    expect(overdraft.status).toBe(409);

    const { text } = await scrape();
    expect(sample(text, "platform_registrations_total")).toBe(users);
    expect(sample(text, 'platform_postings_total{outcome="created",type="credit"}')).toBe(users);
    expect(sample(text, 'platform_postings_total{outcome="replayed",type="credit"}')).toBe(1);
    expect(sample(text, 'platform_postings_total{outcome="insufficient_funds",type="debit"}')).toBe(1);
    // Published at once by the users processes, or swept by the relay in this one: each once.
    expect(
      sample(text, 'platform_events_published_total{type="user.registered",via="eager"}') +
        sample(text, 'platform_events_published_total{type="user.registered",via="relay"}'),
    ).toBe(users);
    expect(text).not.toMatch(/^platform_dlq_arrivals_total\{/m);
    expect(text).toMatch(/^platform_relay_lag_seconds \d/m);
  });

  it("fails the scrape (503) rather than report a partial sum when a process does not answer", async () => {
    const [stalled] = local.runtime.processes().wallet;
    expect(stalled).toBeDefined();
    process.kill(stalled ?? 0, "SIGSTOP");
    try {
      const response = await send(local.runtime.metricsUrl);
      expect(response.status).toBe(503);
      expect(response.text).toMatch(/wallet process \d+ did not report its metrics in time/);
    } finally {
      process.kill(stalled ?? 0, "SIGCONT");
    }
    await scrape();
    expect((await send(local.runtime.metricsUrl.replace(/\/metrics$/, "/other"))).status).toBe(404);
  });
});
