import { isIPv4, isIPv6 } from "node:net";
import type { Context } from "hono";

/** Where no address is known (an app called in process): every such request is one client. */
export const UNKNOWN_CLIENT = "unknown";

/** "1:2::3" → its eight 16-bit groups, or undefined when it is not an IPv6 address. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address;
  // A trailing dotted quad ("64:ff9b::192.0.2.1") stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split(".").map(Number);
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part ? part.split(":").map((group) => Number.parseInt(group, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The key one client is counted under. IPv4 as is (also when written IPv4-mapped, "::ffff:a.b.c.d");
 * IPv6 by its /64, the block one subscriber usually holds, so walking through the addresses of
 * one's own network does not earn fresh quota. Anything else is not an address.
 */
export function normaliseClientAddress(raw: string): string | undefined {
  const address = raw.trim().replace(/%.*$/, "");
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address);
  if (!groups) return undefined;
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

interface Bindings {
  /** hono/aws-lambda: API Gateway (HTTP API, REST API) and function URLs. */
  requestContext?: { http?: { sourceIp?: string }; identity?: { sourceIp?: string } };
  /** @hono/node-server: the socket the request came in on. */
  incoming?: { socket?: { remoteAddress?: string } };
}

/**
 * The address of the client a request comes from, for rate limits and the login throttle. The
 * peer is the connection's: on Lambda the source IP API Gateway saw (requestContext), locally the
 * socket's. `X-Forwarded-For` is anyone's to write, so it is read only through as many proxies as
 * the deployment puts in front (`trustedProxyHops`, e.g. 1 behind CloudFront): the client is then
 * the address that many hops before the peer, as each proxy appends the address it saw.
 */
export function clientAddress(c: Context, trustedProxyHops = 0): string {
  const env = (c.env ?? {}) as Bindings;
  const peer =
    env.requestContext?.http?.sourceIp ??
    env.requestContext?.identity?.sourceIp ??
    env.incoming?.socket?.remoteAddress;
  if (peer === undefined) return UNKNOWN_CLIENT;
  const chain = [...(c.req.header("x-forwarded-for") ?? "").split(","), peer]
    .map((entry) => entry.trim())
    .filter(Boolean);
  const hops = Math.min(trustedProxyHops, chain.length - 1);
  return (
    normaliseClientAddress(chain[chain.length - 1 - hops] ?? peer) ??
    normaliseClientAddress(peer) ??
    UNKNOWN_CLIENT
  );
}
