CREATE TABLE "login_attempts" (
	"email" text NOT NULL,
	"client" text NOT NULL,
	"failures" integer DEFAULT 0 NOT NULL,
	"pending" integer DEFAULT 0 NOT NULL,
	"pending_until" timestamp (6) with time zone,
	"blocked_until" timestamp (6) with time zone,
	"expires_at" timestamp (6) with time zone NOT NULL,
	CONSTRAINT "login_attempts_email_client_pk" PRIMARY KEY("email","client"),
	CONSTRAINT "login_attempts_counts_non_negative" CHECK ("login_attempts"."failures" >= 0 and "login_attempts"."pending" >= 0)
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"policy" text NOT NULL,
	"client" text NOT NULL,
	"used" integer NOT NULL,
	"window_ends_at" timestamp (6) with time zone NOT NULL,
	CONSTRAINT "rate_limits_policy_client_pk" PRIMARY KEY("policy","client")
);
--> statement-breakpoint
CREATE INDEX "login_attempts_expires_idx" ON "login_attempts" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "rate_limits_window_ends_idx" ON "rate_limits" USING btree ("window_ends_at");