ALTER TABLE "client_grants" ADD COLUMN "exchange" jsonb;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "may_act" text[];--> statement-breakpoint
ALTER TABLE "trusted_issuers" ADD COLUMN "token_exchange" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "trusted_issuers" ADD COLUMN "jwt_bearer" boolean DEFAULT false NOT NULL;