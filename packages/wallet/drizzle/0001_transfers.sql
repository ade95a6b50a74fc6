ALTER TABLE "transactions" DROP CONSTRAINT "transactions_type_known";--> statement-breakpoint
ALTER TABLE "transactions" ALTER COLUMN "idempotency_key" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "transactions" ALTER COLUMN "payload_fingerprint" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "transfer_id" uuid;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "counterparty_user_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "transactions_transfer_direction" ON "transactions" USING btree ("transfer_id","type") WHERE "transactions"."transfer_id" is not null;--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_transfer_leg" UNIQUE("transfer_id","user_id","counterparty_user_id","amount_minor");--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_key_has_fingerprint" CHECK (("transactions"."idempotency_key" is null) = ("transactions"."payload_fingerprint" is null));--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_incoming_leg_has_no_key" CHECK ("transactions"."type" <> 'transfer_in' or "transactions"."idempotency_key" is null);--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_transfer_leg_shape" CHECK (("transactions"."type" in ('transfer_in', 'transfer_out')) = ("transactions"."transfer_id" is not null) and ("transactions"."transfer_id" is null) = ("transactions"."counterparty_user_id" is null));--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_no_self_transfer" CHECK ("transactions"."counterparty_user_id" <> "transactions"."user_id");--> statement-breakpoint
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_type_known" CHECK ("transactions"."type" in ('credit', 'debit', 'transfer_in', 'transfer_out'));