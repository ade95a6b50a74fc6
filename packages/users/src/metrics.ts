import { counter } from "@platform/core/metrics";

export const REGISTRATIONS = counter(
  "Registrations",
  "Accounts registered (201 answers of POST /v1/auth/register).",
);

export const USERS_METRICS = [REGISTRATIONS];
