CREATE TABLE "client_federated_identities" (
	"client_uuid" uuid NOT NULL,
	"issuer_id" text NOT NULL,
	"subject" text NOT NULL,
	"claims" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "client_federated_identities_client_uuid_issuer_id_subject_pk" PRIMARY KEY("client_uuid","issuer_id","subject")
);
--> statement-breakpoint
CREATE TABLE "trusted_issuers" (
	"id" text PRIMARY KEY NOT NULL,
	"issuer" text NOT NULL,
	"jwks_uri" text,
	"jwks" jsonb,
	"audience" text,
	"max_token_age" integer DEFAULT 3600 NOT NULL,
	"algorithms" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "trusted_issuers_issuer_unique" UNIQUE("issuer"),
	CONSTRAINT "trusted_issuers_max_token_age" CHECK ("trusted_issuers"."max_token_age" BETWEEN 60 AND 86400)
);
--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "last_used_identity" jsonb;--> statement-breakpoint
ALTER TABLE "client_federated_identities" ADD CONSTRAINT "client_federated_identities_client_uuid_clients_id_fk" FOREIGN KEY ("client_uuid") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "client_federated_identities" ADD CONSTRAINT "client_federated_identities_issuer_id_trusted_issuers_id_fk" FOREIGN KEY ("issuer_id") REFERENCES "public"."trusted_issuers"("id") ON DELETE restrict ON UPDATE cascade;--> statement-breakpoint
CREATE INDEX "client_federated_identities_subject_idx" ON "client_federated_identities" USING btree ("issuer_id","subject");