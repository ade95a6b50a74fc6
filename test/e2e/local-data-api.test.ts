import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntimeFixture, startLocalRuntimeFixture } from "../support/local";

describe("embedded runtime on the Data API driver (DB_DRIVER=data-api, through the emulator)", () => {
  let local: LocalRuntimeFixture;

  beforeAll(async () => {
    local = await startLocalRuntimeFixture({ DB_DRIVER: "data-api" });
  });

  afterAll(async () => {
    await local?.dispose();
  });

  it("registers, provisions the wallet from the event and posts a credit", async () => {
    const registered = await fetch(`${local.runtime.usersUrl}/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        firstName: "D",
        lastName: "Api",
        email: "data.api@example.com",
        password: "password123",
      }),
    });
    expect(registered.status).toBe(201);
    const { accessToken } = (await registered.json()) as { accessToken: string };
    const auth = { authorization: `Bearer ${accessToken}` };

    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      const response = await fetch(`${local.runtime.walletUrl}/v1/wallet/status`, { headers: auth });
      status = response.status;
      await response.arrayBuffer();
      if (status === 200) break;
      expect(status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);

    const credit = await fetch(`${local.runtime.walletUrl}/v1/transactions/credit`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", "idempotency-key": "data-api-credit-1" },
      body: JSON.stringify({ amountMinor: 1234 }),
    });
    expect(credit.status).toBe(201);
    const balance = await fetch(`${local.runtime.walletUrl}/v1/balance`, { headers: auth });
    expect(await balance.json()).toEqual({ balanceMinor: 1234, currency: "USD" });
  });
});
