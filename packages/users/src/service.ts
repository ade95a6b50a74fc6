import { randomUUID } from "node:crypto";
import { AppError, errors, type IssuedToken, type Logger, type TokenService } from "@platform/core";
import { buildUserRegisteredEvent } from "@platform/messaging/events";
import type { PasswordHasher } from "./passwords";
import type { ThrottlePolicy, UserRecord, UsersRepository } from "./repository";

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
}

export interface Registration {
  firstName: string;
  lastName: string;
  /** Already trimmed and lower-cased by the boundary. */
  email: string;
  password: string;
}

const INVALID_CREDENTIALS = "Invalid email or password.";

export function createUsersService(deps: UsersServiceDeps) {
  const { repository, passwords, tokens, logger, publisher } = deps;

  return {
    async register(
      input: Registration,
      correlationId: string | null,
    ): Promise<{ user: UserRecord } & IssuedToken> {
      const userId = randomUUID();
      const event = buildUserRegisteredEvent({ userId, correlationId });
      const user = await repository.registerWithEvent(
        {
          id: userId,
          email: input.email,
          firstName: input.firstName,
          lastName: input.lastName,
          passwordHash: await passwords.hash(input.password),
        },
        {
          id: event.id,
          type: event.type,
          version: event.version,
          payload: event,
          correlationId,
          // Without a publisher (relay-only setups) the row must be claimable by the relay at once.
          leaseSeconds: publisher ? deps.outboxLeaseSeconds : 0,
        },
      );
      if (!user) throw errors.conflict("EMAIL_TAKEN", "An account with this email already exists.");
      logger.info("user registered", { userId: user.id, eventId: event.id });

      // After the commit: a failure here leaves the row pending for the relay, never a lost event.
      await publisher?.publishClaimed({
        id: event.id,
        type: event.type,
        version: event.version,
        payload: event,
        correlationId,
      });
      return { user, ...(await tokens.issue(user.id)) };
    },

    async login(email: string, password: string): Promise<IssuedToken> {
      const state = await repository.loginState(email);
      if (state.lockedForSeconds > 0) {
        throw errors.tooManyRequests(
          "LOGIN_THROTTLED",
          "Too many failed login attempts. Try again later.",
          state.lockedForSeconds,
        );
      }
      const valid = await passwords.verify(password, state.passwordHash);
      if (!valid || !state.userId) {
        const { failures, locked } = await repository.recordLoginFailure(email, deps.throttle);
        logger.warn("login failed", { failures, locked });
        throw new AppError({ status: 401, code: "INVALID_CREDENTIALS", message: INVALID_CREDENTIALS });
      }
      if (state.hasFailures) await repository.clearLoginFailures(email);
      return tokens.issue(state.userId);
    },

    /** `userId` comes from a verified token (a lower-case UUID, see requireAuth). */
    async me(userId: string): Promise<UserRecord> {
      const user = await repository.findById(userId);
      // A valid token for a user that no longer exists is as good as no token.
      if (!user) throw errors.unauthorized("The access token is invalid or expired.");
      return user;
    },
  };
}

export type UsersService = ReturnType<typeof createUsersService>;
