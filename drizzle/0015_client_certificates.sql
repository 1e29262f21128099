CREATE TABLE "client_tls_identities" (
	"client_uuid" uuid NOT NULL,
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"match_key" text NOT NULL,
	CONSTRAINT "client_tls_identities_client_uuid_kind_match_key_pk" PRIMARY KEY("client_uuid","kind","match_key")
);
--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "certificate_bound" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "client_tls_identities" ADD CONSTRAINT "client_tls_identities_client_uuid_clients_id_fk" FOREIGN KEY ("client_uuid") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_tls_identities_match_idx" ON "client_tls_identities" USING btree ("kind","match_key");