ALTER TABLE "client_secrets" ADD COLUMN "slot" smallint;--> statement-breakpoint
ALTER TABLE "client_secrets" ADD CONSTRAINT "client_secrets_slot_bit" CHECK ("client_secrets"."slot" IN (0, 1));