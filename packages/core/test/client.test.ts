import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { clientAddress, normaliseClientAddress, UNKNOWN_CLIENT } from "../src/http/client";
import { rateLimitHeaders } from "../src/rate-limit";

describe("the client a request is counted under", () => {
  it.each([
    ["203.0.113.7", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["::ffff:cb00:7107", "203.0.113.7"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::9", "2001:db8:1:2::/64"],
    ["2001:DB8:0001:0002:ffff::1", "2001:db8:1:2::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["64:ff9b::192.0.2.1", "64:ff9b:0:0::/64"],
    ["not an address", undefined],
    ["203.0.113.7, 10.0.0.1", undefined],
    ["", undefined],
  ])("%j → %j", (raw, key) => {
    expect(normaliseClientAddress(raw)).toBe(key);
  });

  const app = (hops: number) => {
    const hono = new Hono();
    hono.get("/", (c) => c.text(clientAddress(c, hops)));
    return hono;
  };
  const onLambda = (sourceIp: string) => ({ requestContext: { http: { sourceIp } } });
  const onNode = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });
  const ask = async (hops: number, env: object | undefined, forwardedFor?: string) =>
    (
      await app(hops).request(
        "/",
        forwardedFor === undefined ? {} : { headers: { "x-forwarded-for": forwardedFor } },
        env,
      )
    ).text();

  it("is the source IP API Gateway saw on Lambda, and the socket's peer on Node", async () => {
    expect(await ask(0, onLambda("198.51.100.4"))).toBe("198.51.100.4");
    expect(await ask(0, onNode("::ffff:127.0.0.2"))).toBe("127.0.0.2");
  });

  it("ignores X-Forwarded-For unless proxies are trusted, since anyone can write it", async () => {
    expect(await ask(0, onLambda("198.51.100.4"), "192.0.2.1")).toBe("198.51.100.4");
    expect(await ask(0, onNode("10.0.0.5"), "192.0.2.1, 10.0.0.9")).toBe("10.0.0.5");
  });

  it("with N trusted proxies, takes the address the N-th proxy from the peer saw", async () => {
    // A client's own X-Forwarded-For entry ("1.2.3.4", forged) comes first; each proxy appends.
    expect(await ask(1, onNode("10.0.0.5"), "1.2.3.4, 192.0.2.1")).toBe("192.0.2.1");
    expect(await ask(2, onNode("10.0.0.5"), "1.2.3.4, 192.0.2.1, 10.0.0.9")).toBe("192.0.2.1");
    // Fewer hops than trusted: the furthest address there is.
    expect(await ask(3, onNode("10.0.0.5"), "192.0.2.1")).toBe("192.0.2.1");
    // A trusted proxy that wrote garbage: the peer, never the garbage.
    expect(await ask(1, onNode("10.0.0.5"), "not-an-ip")).toBe("10.0.0.5");
  });

  it("is one shared 'unknown' client when the app is called in process, without a connection", async () => {
    expect(await ask(0, undefined)).toBe(UNKNOWN_CLIENT);
  });
});

describe("RateLimit header fields (draft-ietf-httpapi-ratelimit-headers-11)", () => {
  it("name the policy as a Structured Field string, with q/w for the quota and r/t for what is left", () => {
    expect(
      rateLimitHeaders({ policy: "login", quota: 30, windowSeconds: 60, remaining: 12, resetSeconds: 41 }),
    ).toEqual({ "RateLimit-Policy": '"login";q=30;w=60', RateLimit: '"login";r=12;t=41' });
    expect(
      rateLimitHeaders({ policy: "register", quota: 5, windowSeconds: 600, remaining: -2, resetSeconds: -1 })
        .RateLimit,
    ).toBe('"register";r=0;t=0');
  });
});
