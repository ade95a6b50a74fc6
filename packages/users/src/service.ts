import { randomUUID } from "node:crypto";
import {
  AppError,
  errors,
  type IssuedToken,
  type Logger,
  type Metrics,
  noMetrics,
  type RateLimitState,
  rateLimitHeaders,
  type TokenService,
} from "@platform/core";
import {
  buildUserClosedEvent,
  buildUserRegisteredEvent,
  type UserClosedV1,
  type UserRegisteredV1,
} from "@platform/messaging/events";
import type { OutboxPublisher } from "@platform/messaging/publisher";
import type { Admission, RateLimitPolicy, ThrottlePolicy } from "./attempts";
import { REGISTRATIONS } from "./metrics";
import type { PasswordHasher } from "./passwords";
import { hashRefreshToken, newRefreshToken } from "./refresh-tokens";
import type { Attempt, NewOutboxEvent, NewSession, UserRecord, UsersRepository } from "./repository";

/** Hands a just-committed outbox row to the queue at once; must never throw. */
export type EventPublisher = Pick<OutboxPublisher, "publishClaimed">;

export interface UsersServiceDeps {
  repository: UsersRepository;
  passwords: PasswordHasher;
  tokens: TokenService;
  throttle: ThrottlePolicy;
  rateLimits: { login: RateLimitPolicy; register: RateLimitPolicy };
  logger: Logger;
  /** Registrations are counted here (an operator's view of sign-ups). */
  metrics?: Metrics;
  publisher?: EventPublisher;
  outboxLeaseSeconds: number;
  refreshTokenTtlSeconds: number;
}

export interface Registration {
  firstName: string;
  lastName: string;
  /** Already trimmed and lower-cased by the boundary. */
  email: string;
  password: string;
}

export interface ProfileChanges {
  firstName?: string | undefined;
  lastName?: string | undefined;
}

/** An access token and the refresh token that renews it. */
export interface SessionTokens extends IssuedToken {
  refreshToken: string;
  refreshExpiresIn: number;
}

/** What a rate-limited route answers, with the client's standing for the RateLimit header fields. */
export interface RateLimited<T> {
  result: T;
  rateLimit: RateLimitState;
}

type UserEvent = UserRegisteredV1 | UserClosedV1;

const invalidCredentials = (message: string) =>
  new AppError({ status: 401, code: "INVALID_CREDENTIALS", message });

const INVALID_LOGIN = "Invalid email or password.";
const WRONG_PASSWORD = "The password is incorrect.";

/** An error answered with the client's rate-limit standing, as every answer of a limited route is. */
function withRateLimit(error: AppError, rateLimit: RateLimitState): AppError {
  return new AppError({
    status: error.status,
    code: error.code,
    message: error.message,
    headers: { ...rateLimitHeaders(rateLimit), ...error.headers },
    extra: error.extra,
    ...(error.fields ? { fields: error.fields } : {}),
  });
}

/** The 429 of an attempt the rate limit or the login throttle did not admit. */
function refusal(admission: Exclude<Admission, { admitted: true }>): AppError {
  return admission.refusedBy === "rate-limit"
    ? errors.tooManyRequests(
        "RATE_LIMITED",
        "Too many requests from this client. Try again later.",
        admission.retryAfterSeconds,
      )
    : errors.tooManyRequests(
        "LOGIN_THROTTLED",
        "Too many failed password attempts. Try again later.",
        admission.retryAfterSeconds,
      );
}

// One answer for every refresh token that does not work, reused ones included: the client's
// only move is to log in again, and the reason is logged for operators.
const invalidRefreshToken = () =>
  new AppError({
    status: 401,
    code: "INVALID_REFRESH_TOKEN",
    message: "The refresh token is invalid, expired or revoked. Log in again.",
  });

// A valid access token of an account that is closed (or never existed) is as good as none.
const accountGone = () => errors.unauthorized("The access token is invalid or expired.");

export function createUsersService(deps: UsersServiceDeps) {
  const { repository, passwords, tokens, logger, publisher } = deps;

  const newSession = (): { session: NewSession; refreshToken: string } => {
    const { token, hash } = newRefreshToken();
    return {
      session: { familyId: randomUUID(), tokenHash: hash, ttlSeconds: deps.refreshTokenTtlSeconds },
      refreshToken: token,
    };
  };

  const issueTokens = async (userId: string, refreshToken: string): Promise<SessionTokens> => ({
    ...(await tokens.issue(userId)),
    refreshToken,
    refreshExpiresIn: deps.refreshTokenTtlSeconds,
  });

  const outboxRow = (event: UserEvent): NewOutboxEvent => ({
    id: event.id,
    type: event.type,
    version: event.version,
    payload: event,
    correlationId: event.correlationId,
    // Without a publisher (relay-only setups) the row must be claimable by the relay at once.
    leaseSeconds: publisher ? deps.outboxLeaseSeconds : 0,
  });

  /** After the commit: a failure here leaves the row pending for the relay, never a lost event. */
  const publishCommitted = async (row: NewOutboxEvent) => {
    await publisher?.publishClaimed(row);
  };

  /** Settles a reserved attempt as a wrong password, then refuses. */
  const refuseWrongPassword = async (attempt: Attempt, message: string): Promise<never> => {
    const { failures, blocked } = await repository.recordLoginFailure(attempt, deps.throttle);
    logger.warn("password check failed", { failures, blocked });
    throw invalidCredentials(message);
  };

  /**
   * A signed-in user proves the password again before a sensitive change; the attempt is reserved
   * and counted in the same throttle as logins, so these routes are no way around it.
   */
  const verifyAccountPassword = async (userId: string, password: string, client: string) => {
    const account = await repository.reserveAccountAttempt(userId, client, deps.throttle);
    if (!account) throw accountGone();
    if (!account.admission.admitted) throw refusal(account.admission);
    const attempt = { email: account.email, client };
    if (!(await passwords.verify(password, account.passwordHash))) {
      return refuseWrongPassword(attempt, WRONG_PASSWORD);
    }
    return { userId, sessionEpoch: account.sessionEpoch, attempt };
  };

  return {
    /**
     * Registers a user, counted against the client's registration rate limit in the same
     * statement. The password is hashed first: the statement stores the hash.
     */
    async register(
      input: Registration,
      correlationId: string | null,
      client: string,
    ): Promise<RateLimited<{ user: UserRecord } & SessionTokens>> {
      const userId = randomUUID();
      const event = outboxRow(buildUserRegisteredEvent({ userId, correlationId }));
      const { session, refreshToken } = newSession();
      const { admission, rateLimit, user } = await repository.registerWithEvent(
        {
          id: userId,
          email: input.email,
          firstName: input.firstName,
          lastName: input.lastName,
          passwordHash: await passwords.hash(input.password),
        },
        event,
        session,
        { policy: deps.rateLimits.register, client },
      );
      if (!admission.admitted) throw withRateLimit(refusal(admission), rateLimit);
      if (!user) {
        throw withRateLimit(
          errors.conflict("EMAIL_TAKEN", "An account with this email already exists."),
          rateLimit,
        );
      }
      (deps.metrics ?? noMetrics).count(REGISTRATIONS, 1);
      logger.info("user registered", { userId: user.id, eventId: event.id });
      await publishCommitted(event);
      return { result: { user, ...(await issueTokens(user.id, refreshToken)) }, rateLimit };
    },

    /**
     * Checks a password for an email. The attempt is counted against the client's login rate
     * limit and reserved in the login throttle before bcrypt runs (one statement), then settled
     * as a failure or, with the new session, as a success.
     */
    async login(email: string, password: string, client: string): Promise<RateLimited<SessionTokens>> {
      const attempt = { email, client };
      const state = await repository.reserveLogin(attempt, deps.throttle, deps.rateLimits.login);
      const { rateLimit } = state;
      try {
        if (!state.admission.admitted) throw refusal(state.admission);
        const valid = await passwords.verify(password, state.passwordHash);
        if (!valid || !state.userId) return await refuseWrongPassword(attempt, INVALID_LOGIN);
        const { session, refreshToken } = newSession();
        // Refused when the password changed or the account closed since it was read.
        const started = await repository.startSession(
          { userId: state.userId, sessionEpoch: state.sessionEpoch },
          session,
          attempt,
          deps.throttle,
        );
        if (!started) throw invalidCredentials(INVALID_LOGIN);
        return { result: await issueTokens(state.userId, refreshToken), rateLimit };
      } catch (error) {
        throw error instanceof AppError ? withRateLimit(error, rateLimit) : error;
      }
    },

    async refresh(presented: string): Promise<SessionTokens> {
      const next = newRefreshToken();
      const result = await repository.rotateRefreshToken(hashRefreshToken(presented), {
        tokenHash: next.hash,
        ttlSeconds: deps.refreshTokenTtlSeconds,
      });
      switch (result.outcome) {
        case "rotated":
          return issueTokens(result.userId, next.token);
        case "reused":
          logger.warn("refresh token reuse detected; its family is revoked", {
            userId: result.userId,
            familyId: result.familyId,
          });
          throw invalidRefreshToken();
        case "invalid":
          throw invalidRefreshToken();
      }
    },

    /** Ends the session (token family) a refresh token belongs to; unknown tokens are no error. */
    async logout(presented: string): Promise<void> {
      const familyId = await repository.revokeFamily(hashRefreshToken(presented));
      if (familyId) logger.info("session ended", { familyId });
    },

    /** `userId` comes from a verified token (a lower-case UUID, see requireAuth). */
    async me(userId: string): Promise<UserRecord> {
      const user = await repository.findById(userId);
      if (!user) throw accountGone();
      return user;
    },

    async updateProfile(userId: string, changes: ProfileChanges): Promise<UserRecord> {
      const user = await repository.updateProfile(userId, changes);
      if (!user) throw accountGone();
      return user;
    },

    /** Sets a new password and ends every session of the user, this one included. */
    async changePassword(
      userId: string,
      currentPassword: string,
      newPassword: string,
      client: string,
    ): Promise<void> {
      const account = await verifyAccountPassword(userId, currentPassword, client);
      // Refused when another change or a closure committed since the password was verified.
      const changed = await repository.changePassword(
        account,
        await passwords.hash(newPassword),
        account.attempt,
        deps.throttle,
      );
      if (!changed) throw invalidCredentials(WRONG_PASSWORD);
      logger.info("password changed; every session ended", { userId });
    },

    /**
     * Closes the account: anonymised, every session ended and `user.closed` written in one
     * statement, then published at once like a registration.
     */
    async close(
      userId: string,
      password: string,
      correlationId: string | null,
      client: string,
    ): Promise<void> {
      const account = await verifyAccountPassword(userId, password, client);
      const event = outboxRow(buildUserClosedEvent({ userId, correlationId }));
      if (!(await repository.closeWithEvent({ ...account, email: account.attempt.email }, event)))
        throw invalidCredentials(WRONG_PASSWORD);
      logger.info("account closed", { userId, eventId: event.id });
      await publishCommitted(event);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
