ALTER TABLE "services" ADD COLUMN "self_service_roles" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "self_service_max_access_token_ttl" integer;