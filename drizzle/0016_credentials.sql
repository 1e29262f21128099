CREATE TABLE "client_credentials" (
	"id" text PRIMARY KEY NOT NULL,
	"client_uuid" uuid NOT NULL,
	"kind" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"hash" text,
	"self_identifying" boolean DEFAULT false NOT NULL,
	"slot" smallint,
	"contains_plus" boolean DEFAULT false NOT NULL,
	"jwk" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" text NOT NULL,
	"created_by_name" text,
	"expires_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"revoked_reason" text,
	CONSTRAINT "client_credentials_slot_bit" CHECK ("client_credentials"."slot" IN (0, 1)),
	CONSTRAINT "client_credentials_id_form" CHECK ("client_credentials"."id" ~ '^cred_[0-9A-Za-z]{16}$'),
	CONSTRAINT "client_credentials_kind_fields" CHECK (("client_credentials"."kind" = 'secret' AND "client_credentials"."hash" IS NOT NULL AND "client_credentials"."jwk" IS NULL) OR ("client_credentials"."kind" = 'public_key' AND "client_credentials"."jwk" IS NOT NULL AND "client_credentials"."hash" IS NULL)),
	CONSTRAINT "client_credentials_revoked" CHECK (("client_credentials"."revoked_at" IS NULL) = ("client_credentials"."revoked_reason" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "client_credentials" ADD CONSTRAINT "client_credentials_client_uuid_clients_id_fk" FOREIGN KEY ("client_uuid") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_credentials_client_idx" ON "client_credentials" USING btree ("client_uuid");
--> statement-breakpoint
-- Every secret becomes a credential, live or counting down as it was (its hash, slot and
-- expiry kept), so that no client loses access; then every registered public key.
INSERT INTO "client_credentials" ("id", "client_uuid", "kind", "hash", "self_identifying", "slot", "contains_plus", "created_at", "created_by", "expires_at")
SELECT 'cred_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16), s."client_uuid", 'secret', s."hash", false, s."slot", s."contains_plus", s."created_at", 'migration', s."expires_at"
FROM "client_secrets" s;--> statement-breakpoint
INSERT INTO "client_credentials" ("id", "client_uuid", "kind", "jwk", "created_at", "created_by")
SELECT 'cred_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16), c."id", 'public_key', k.value, c."updated_at", 'migration'
FROM "clients" c CROSS JOIN LATERAL jsonb_array_elements(c."jwks"->'keys') AS k(value)
WHERE jsonb_typeof(c."jwks"->'keys') = 'array' AND jsonb_typeof(k.value) = 'object';--> statement-breakpoint
DROP TABLE "client_secrets" CASCADE;--> statement-breakpoint
ALTER TABLE "clients" DROP COLUMN "jwks";--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "credential_max_lifetime_days" integer;