import { randomUUID } from "node:crypto";
import { AppError, errors, type IssuedToken, type Logger, type TokenService } from "@platform/core";
import {
  buildUserClosedEvent,
  buildUserRegisteredEvent,
  type UserClosedV1,
  type UserRegisteredV1,
} from "@platform/messaging/events";
import type { PasswordHasher } from "./passwords";
import { hashRefreshToken, newRefreshToken } from "./refresh-tokens";
import type { NewOutboxEvent, NewSession, ThrottlePolicy, UserRecord, UsersRepository } from "./repository";

/** Hands a just-committed outbox row to the queue at once; must never throw. */
export interface EventPublisher {
  publishClaimed(row: {
    id: string;
    type: string;
    version: number;
    payload: unknown;
    correlationId: string | null;
  }): Promise<void>;
}

export interface UsersServiceDeps {
  repository: UsersRepository;
  passwords: PasswordHasher;
  tokens: TokenService;
  throttle: ThrottlePolicy;
  logger: Logger;
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

type UserEvent = UserRegisteredV1 | UserClosedV1;

const invalidCredentials = (message: string) =>
  new AppError({ status: 401, code: "INVALID_CREDENTIALS", message });

const INVALID_LOGIN = "Invalid email or password.";
const WRONG_PASSWORD = "The password is incorrect.";

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
  const publishCommitted = async (event: UserEvent) => {
    await publisher?.publishClaimed({
      id: event.id,
      type: event.type,
      version: event.version,
      payload: event,
      correlationId: event.correlationId,
    });
  };

  const refuseWhileThrottled = (lockedForSeconds: number) => {
    if (lockedForSeconds > 0) {
      throw errors.tooManyRequests(
        "LOGIN_THROTTLED",
        "Too many failed login attempts. Try again later.",
        lockedForSeconds,
      );
    }
  };

  /** Counts a wrong password towards the email's login throttle, then refuses. */
  const refuseWrongPassword = async (email: string, message: string): Promise<never> => {
    const { failures, locked } = await repository.recordLoginFailure(email, deps.throttle);
    logger.warn("password check failed", { failures, locked });
    throw invalidCredentials(message);
  };

  /**
   * A signed-in user proves the password again before a sensitive change; wrong guesses count
   * towards the same throttle as logins, so these routes are no way around it.
   */
  const verifyAccountPassword = async (userId: string, password: string) => {
    const account = await repository.accountCredentials(userId);
    if (!account) throw accountGone();
    refuseWhileThrottled(account.lockedForSeconds);
    if (!(await passwords.verify(password, account.passwordHash))) {
      return refuseWrongPassword(account.email, WRONG_PASSWORD);
    }
    return { userId, sessionEpoch: account.sessionEpoch, email: account.email };
  };

  return {
    async register(
      input: Registration,
      correlationId: string | null,
    ): Promise<{ user: UserRecord } & SessionTokens> {
      const userId = randomUUID();
      const event = buildUserRegisteredEvent({ userId, correlationId });
      const { session, refreshToken } = newSession();
      const user = await repository.registerWithEvent(
        {
          id: userId,
          email: input.email,
          firstName: input.firstName,
          lastName: input.lastName,
          passwordHash: await passwords.hash(input.password),
        },
        outboxRow(event),
        session,
      );
      if (!user) throw errors.conflict("EMAIL_TAKEN", "An account with this email already exists.");
      logger.info("user registered", { userId: user.id, eventId: event.id });
      await publishCommitted(event);
      return { user, ...(await issueTokens(user.id, refreshToken)) };
    },

    async login(email: string, password: string): Promise<SessionTokens> {
      const state = await repository.loginState(email);
      refuseWhileThrottled(state.lockedForSeconds);
      const valid = await passwords.verify(password, state.passwordHash);
      if (!valid || !state.userId) return refuseWrongPassword(email, INVALID_LOGIN);
      const { session, refreshToken } = newSession();
      // Refused when the password changed or the account closed since it was read.
      const started = await repository.startSession(
        { userId: state.userId, sessionEpoch: state.sessionEpoch, email },
        session,
      );
      if (!started) throw invalidCredentials(INVALID_LOGIN);
      return issueTokens(state.userId, refreshToken);
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
    async changePassword(userId: string, currentPassword: string, newPassword: string): Promise<void> {
      const account = await verifyAccountPassword(userId, currentPassword);
      // Refused when another change or a closure committed since the password was verified.
      const changed = await repository.changePassword(account, await passwords.hash(newPassword));
      if (!changed) throw invalidCredentials(WRONG_PASSWORD);
      logger.info("password changed; every session ended", { userId });
    },

    /**
     * Closes the account: anonymised, every session ended and `user.closed` written in one
     * statement, then published at once like a registration.
     */
    async close(userId: string, password: string, correlationId: string | null): Promise<void> {
      const account = await verifyAccountPassword(userId, password);
      const event = buildUserClosedEvent({ userId, correlationId });
      if (!(await repository.closeWithEvent(account, outboxRow(event))))
        throw invalidCredentials(WRONG_PASSWORD);
      logger.info("account closed", { userId, eventId: event.id });
      await publishCommitted(event);
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
