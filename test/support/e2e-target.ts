/**
 * Where the black-box suite (test/e2e/black-box.test.ts) runs: the embedded runtime it starts
 * itself (in `npm test`), or base URLs given in the environment by `npm run test:localstack` and
 * `npm run test:deployed`. The suite only ever speaks HTTP to these URLs.
 */

export type E2eProfileName = "embedded" | "localstack" | "deployed";

export interface E2eProfile {
  /** One HTTP request, a cold start included. */
  requestTimeoutMs: number;
  /** From registration to a ready wallet: publish, queue, consumer (cold), database. */
  readyTimeoutMs: number;
  /** One test, several requests and a wait for a wallet included. */
  testTimeoutMs: number;
}

/**
 * Cold starts decide the figures: none on the embedded runtime; on LocalStack the first request to
 * each function starts a container (and pulls the runtime image on the very first run), and the
 * SQS event source backs off to one poll a second when the queue is empty; on AWS a paused Aurora
 * cluster takes ~15 s to resume.
 */
export const E2E_PROFILES: Readonly<Record<E2eProfileName, E2eProfile>> = {
  embedded: { requestTimeoutMs: 10_000, readyTimeoutMs: 10_000, testTimeoutMs: 30_000 },
  localstack: { requestTimeoutMs: 60_000, readyTimeoutMs: 90_000, testTimeoutMs: 240_000 },
  deployed: { requestTimeoutMs: 30_000, readyTimeoutMs: 60_000, testTimeoutMs: 180_000 },
};

export interface E2eTarget {
  name: E2eProfileName;
  usersUrl: string;
  walletUrl: string;
  profile: E2eProfile;
  dispose(): Promise<void>;
}

/** The variables `npm run test:localstack` and `npm run test:deployed` set for the suite. */
export const E2E_ENV = {
  usersUrl: "E2E_USERS_URL",
  walletUrl: "E2E_WALLET_URL",
  profile: "E2E_PROFILE",
} as const;

function baseUrl(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${variable}: expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`${variable}: expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  return url.href.replace(/\/+$/, "");
}

/** The target named by the environment, or `undefined` when the suite should start its own. */
export function remoteTargetFromEnv(env: NodeJS.ProcessEnv): Omit<E2eTarget, "dispose"> | undefined {
  const users = env[E2E_ENV.usersUrl];
  const wallet = env[E2E_ENV.walletUrl];
  if (!users && !wallet) return undefined;
  if (!users || !wallet) {
    throw new Error(
      `set both ${E2E_ENV.usersUrl} and ${E2E_ENV.walletUrl} (or neither, for the embedded runtime)`,
    );
  }
  const name = env[E2E_ENV.profile] ?? "deployed";
  if (name !== "localstack" && name !== "deployed") {
    throw new Error(`${E2E_ENV.profile}: expected localstack or deployed, got ${JSON.stringify(name)}`);
  }
  return {
    name,
    usersUrl: baseUrl(E2E_ENV.usersUrl, users),
    walletUrl: baseUrl(E2E_ENV.walletUrl, wallet),
    profile: E2E_PROFILES[name],
  };
}

/** The timeouts of the target the environment names; known before any test runs. */
export function e2eProfileFromEnv(env: NodeJS.ProcessEnv): E2eProfile {
  return remoteTargetFromEnv(env)?.profile ?? E2E_PROFILES.embedded;
}

/** The remote target from the environment, or the embedded runtime on free ports. */
export async function startE2eTarget(): Promise<E2eTarget> {
  const remote = remoteTargetFromEnv(process.env);
  if (remote) return { ...remote, dispose: async () => undefined };
  // Imported only here: a remote run needs neither PostgreSQL nor the services' code.
  const { startLocalRuntimeFixture } = await import("./local");
  const local = await startLocalRuntimeFixture();
  return {
    name: "embedded",
    usersUrl: local.runtime.usersUrl,
    walletUrl: local.runtime.walletUrl,
    profile: E2E_PROFILES.embedded,
    dispose: () => local.dispose(),
  };
}
