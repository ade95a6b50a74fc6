import type { RateLimitState } from "@platform/core";
import { type SQL, sql } from "drizzle-orm";
import { ACCOUNT_WIDE } from "./schema";

// The SQL of the login throttle and of the per-client rate limits, as CTEs the repository folds
// into the statements a request already makes: reserving an attempt never costs a round trip.

/**
 * The login throttle (decision 52). Per account and client, `freeFailures` wrong passwords go
 * unhindered; then each further attempt waits `delayBaseSeconds`, doubled at each failure up to
 * `delayMaxSeconds` (OWASP's progressive delay), and one at a time. Per account, from every
 * client together, `accountMaxFailures` wrong passwords lock it for `lockoutSeconds`: a ceiling
 * far above what one client may try, so that locking someone out takes many clients.
 */
export interface ThrottlePolicy {
  freeFailures: number;
  delayBaseSeconds: number;
  delayMaxSeconds: number;
  accountMaxFailures: number;
  lockoutSeconds: number;
  /** How long a row remembers its failures after its last attempt. */
  windowSeconds: number;
}

/** At most `quota` requests per client in each fixed window of `windowSeconds`. */
export interface RateLimitPolicy {
  name: "login" | "register";
  quota: number;
  windowSeconds: number;
}

/** Whether an attempt may go on, and if not, what stopped it and for how long. */
export type Admission =
  | { admitted: true }
  | { admitted: false; refusedBy: "rate-limit" | "throttle"; retryAfterSeconds: number };

/**
 * An attempt admitted but never decided (its request died) stops counting after this: longer
 * than any request lives (API Gateway gives up after 30 s).
 */
const PENDING_SECONDS = 60;

/** Expired rows each reserving statement deletes: more than it adds, so none pile up. */
const PRUNE_BATCH = 4;

const seconds = (value: number) => sql`make_interval(secs => ${value}::int)`;

/** The columns of a login_attempts row (by alias) as they count now: an expired row is empty. */
function current(alias: string) {
  const column = (name: string) => sql.raw(`${alias}.${name}`);
  const expired = sql`(${column("expires_at")} <= now())`;
  return {
    client: column("client"),
    pendingUntil: column("pending_until"),
    failures: sql`(case when ${expired} then 0 else ${column("failures")} end)`,
    pending: sql`(case when ${expired} or coalesce(${column("pending_until")} <= now(), true) then 0 else ${column("pending")} end)`,
    blockedUntil: sql`(case when ${expired} then null else ${column("blocked_until")} end)`,
  };
}

const unblocked = (row: ReturnType<typeof current>) => sql`coalesce(${row.blockedUntil} <= now(), true)`;

/** A pair admits its free attempts at once, then one at a time, each after its delay. */
function pairAdmits(alias: string, policy: ThrottlePolicy): SQL {
  const row = current(alias);
  return sql`(${unblocked(row)} and (${row.failures} + ${row.pending} < ${policy.freeFailures}::int or ${row.pending} = 0))`;
}

/** The account admits attempts, decided or not, up to its ceiling, and none while locked. */
function accountAdmits(alias: string, policy: ThrottlePolicy): SQL {
  const row = current(alias);
  return sql`(${unblocked(row)} and ${row.failures} + ${row.pending} < ${policy.accountMaxFailures}::int)`;
}

/** Seconds until the row's block ends, when it refuses an attempt; null otherwise. */
function refusedFor(alias: string, admits: SQL): SQL {
  const row = current(alias);
  return sql`(case when not ${admits} then extract(epoch from (${row.blockedUntil} - now())) end)`;
}

/** Counts one more attempt in flight on row `t`, forgetting it first if it has expired. */
function reserve(policy: ThrottlePolicy): SQL {
  const row = current("t");
  return sql`
    failures = ${row.failures},
    pending = ${row.pending} + 1,
    pending_until = now() + ${seconds(PENDING_SECONDS)},
    blocked_until = ${row.blockedUntil},
    expires_at = greatest(now() + ${seconds(Math.max(policy.windowSeconds, PENDING_SECONDS))},
                          case when t.expires_at > now() then t.expires_at end)`;
}

/**
 * CTEs reserving one login attempt for the email `key` yields (none: nothing is reserved) and
 * `client`, when `gate` holds: first the pair's row, then, only if the pair admitted it, the
 * account's. Each upsert decides on the row's latest version, under its lock, so concurrent
 * attempts are admitted one after the other and never beyond a limit. The pair's decision also
 * reads the account's row as of the statement's start: an account locked in between is caught by
 * the account's own upsert, which then refuses, leaving the pair with one attempt in flight that
 * nobody settles until it stops counting (a conservative miscount, never a permissive one). Also
 * deletes a few expired rows.
 *
 * Yields `attempt_key`, `account_seen`, `pair_seen`, `pair_reserved`, `account_reserved`,
 * `pruned_attempts`; `throttleColumns` reads them.
 */
export function reserveAttemptCtes(key: SQL, client: string, policy: ThrottlePolicy, gate: SQL): SQL {
  const insert = (clientKey: SQL, admits: SQL, from: SQL) => sql`
    insert into login_attempts as t (email, client, failures, pending, pending_until, expires_at)
    select k.email, ${clientKey}, 0, 1, now() + ${seconds(PENDING_SECONDS)},
           now() + ${seconds(Math.max(policy.windowSeconds, PENDING_SECONDS))}
    ${from}
    on conflict (email, client) do update set ${reserve(policy)}
    where ${admits}
    returning 1 as reserved`;
  return sql`
    attempt_key as (${key}),
    account_seen as (
      select a.* from login_attempts a join attempt_key k on a.email = k.email
      where a.client = ${ACCOUNT_WIDE}::text
    ), pair_seen as (
      select p.* from login_attempts p join attempt_key k on p.email = k.email
      where p.client = ${client}::text
    ), pair_reserved as (${insert(
      sql`${client}::text`,
      pairAdmits("t", policy),
      sql`from attempt_key k
          where ${gate} and not exists (select 1 from account_seen a where not ${accountAdmits("a", policy)})`,
    )}
    ), account_reserved as (${insert(
      sql`${ACCOUNT_WIDE}::text`,
      accountAdmits("t", policy),
      sql`from attempt_key k where exists (select 1 from pair_reserved)`,
    )}
    ), pruned_attempts as (
      delete from login_attempts d using (
        select e.email, e.client from login_attempts e
        where e.expires_at < now() and not exists (select 1 from attempt_key k where k.email = e.email)
        order by e.expires_at limit ${PRUNE_BATCH}::int
        for update skip locked
      ) x
      where d.email = x.email and d.client = x.client
    )`;
}

/** `admitted` and `throttle_retry_after` (seconds, at least 1) from reserveAttemptCtes. */
export function throttleColumns(policy: ThrottlePolicy): SQL {
  return sql`
    exists (select 1 from account_reserved) as admitted,
    greatest(1, ceil(greatest(
      (select ${refusedFor("p", pairAdmits("p", policy))} from pair_seen p),
      (select ${refusedFor("a", accountAdmits("a", policy))} from account_seen a)
    )))::int as throttle_retry_after`;
}

/**
 * A CTE named `name` settling one attempt of `email` from `client` on both its rows, when
 * `condition` holds. A wrong password adds a failure: the pair's next attempt waits its delay
 * once the free ones are used, and the account locks at its ceiling. A right one clears the
 * pair's failures but not the account's, and neither clears attempts others still have in flight.
 */
export function settleAttemptCte(
  name: string,
  outcome: "failure" | "success",
  attempt: { email: string; client: string },
  policy: ThrottlePolicy,
  condition: SQL = sql`true`,
): SQL {
  const row = current("t");
  const accountWide = sql`(t.client = ${ACCOUNT_WIDE}::text)`;
  const next = sql`(${row.failures} + 1)`;
  const where = sql`t.email = ${attempt.email}::text and t.client in (${attempt.client}::text, ${ACCOUNT_WIDE}::text) and ${condition}`;
  const released = sql`greatest(${row.pending} - 1, 0)`;
  if (outcome === "success") {
    return sql`${sql.identifier(name)} as (
      update login_attempts t set
        pending = ${released},
        failures = case when ${accountWide} then ${row.failures} else 0 end,
        blocked_until = case when ${accountWide} then ${row.blockedUntil} end
      where ${where}
      returning t.client
    )`;
  }
  const locks = sql`(${accountWide} and ${next} >= ${policy.accountMaxFailures}::int)`;
  const delay = sql`make_interval(secs => least(${policy.delayMaxSeconds}::float8,
    ${policy.delayBaseSeconds}::float8 * power(2::float8, (${next} - ${policy.freeFailures}::int)::float8)))`;
  const blockedUntil = sql`(case
    when ${locks} then now() + ${seconds(policy.lockoutSeconds)}
    when ${accountWide} then ${row.blockedUntil}
    when ${next} >= ${policy.freeFailures}::int then now() + ${delay}
  end)`;
  return sql`${sql.identifier(name)} as (
    update login_attempts t set
      failures = ${next},
      pending = ${released},
      blocked_until = ${blockedUntil},
      -- A lock that runs out forgets the account's failures with it; a pair keeps them (and its
      -- growing delay) for a window after its last attempt.
      expires_at = case when ${locks} then ${blockedUntil}
                        else greatest(now() + ${seconds(policy.windowSeconds)}, ${blockedUntil}, t.pending_until) end
    where ${where}
    returning t.client, t.failures, coalesce(t.blocked_until > now(), false) as blocked
  )`;
}

/**
 * CTEs counting one request of `client` under `policy` before it is served: admitted while the
 * window's count is under the quota, a new window starting once the old one has ended. Also
 * deletes a few ended windows. Yields `rate_reserved`, `rate_seen`, `pruned_rates`;
 * `rateLimitColumns` reads them.
 */
export function reserveRateCtes(policy: RateLimitPolicy, client: string): SQL {
  return sql`
    rate_reserved as (
      insert into rate_limits as r (policy, client, used, window_ends_at)
      values (${policy.name}::text, ${client}::text, 1, now() + ${seconds(policy.windowSeconds)})
      on conflict (policy, client) do update set
        used = case when r.window_ends_at <= now() then 1 else r.used + 1 end,
        window_ends_at = case when r.window_ends_at <= now()
                              then now() + ${seconds(policy.windowSeconds)} else r.window_ends_at end
      where r.window_ends_at <= now() or r.used < ${policy.quota}::int
      returning r.used, r.window_ends_at
    ), rate_seen as (
      select used, window_ends_at from rate_limits
      where policy = ${policy.name}::text and client = ${client}::text
    ), pruned_rates as (
      delete from rate_limits d using (
        select e.policy, e.client from rate_limits e
        where e.window_ends_at < now() and not (e.policy = ${policy.name}::text and e.client = ${client}::text)
        order by e.window_ends_at limit ${PRUNE_BATCH}::int
        for update skip locked
      ) x
      where d.policy = x.policy and d.client = x.client
    )`;
}

/** `rate_admitted`, `rate_used` and `rate_reset` (seconds) from reserveRateCtes. */
export const rateLimitColumns = sql`
  exists (select 1 from rate_reserved) as rate_admitted,
  coalesce((select used from rate_reserved), (select used from rate_seen), 0)::int as rate_used,
  greatest(0, ceil(extract(epoch from (
    coalesce((select window_ends_at from rate_reserved), (select window_ends_at from rate_seen), now()) - now()
  ))))::int as rate_reset`;

export type RateLimitRow = {
  rate_admitted: boolean;
  rate_used: number | string;
  rate_reset: number | string;
};

/** The client's standing after the request, for the RateLimit header fields. */
export function rateLimitState(policy: RateLimitPolicy, row: RateLimitRow | undefined): RateLimitState {
  return {
    policy: policy.name,
    quota: policy.quota,
    windowSeconds: policy.windowSeconds,
    remaining: Math.max(0, policy.quota - Number(row?.rate_used ?? 0)),
    resetSeconds: Math.max(0, Number(row?.rate_reset ?? 0)),
  };
}
