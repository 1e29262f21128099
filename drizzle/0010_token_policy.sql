CREATE TABLE "client_usage" (
	"client_uuid" uuid NOT NULL,
	"hour_start" timestamp with time zone NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"refusals" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "client_usage_client_uuid_hour_start_pk" PRIMARY KEY("client_uuid","hour_start")
);
--> statement-breakpoint
CREATE TABLE "quota_counts" (
	"client_uuid" uuid NOT NULL,
	"hour_start" timestamp with time zone NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "quota_counts_client_uuid_hour_start_pk" PRIMARY KEY("client_uuid","hour_start")
);
--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "access_token_ttl" integer;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "claims" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "token_quota" jsonb;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "access_token_ttl" integer;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "claims" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "client_usage" ADD CONSTRAINT "client_usage_client_uuid_clients_id_fk" FOREIGN KEY ("client_uuid") REFERENCES "public"."clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_usage_hour_idx" ON "client_usage" USING btree ("hour_start");--> statement-breakpoint
CREATE INDEX "quota_counts_hour_idx" ON "quota_counts" USING btree ("hour_start");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_quota_window" ON "audit_events" USING btree ("client_id",("details"->>'window'),("details"->>'window_start')) WHERE "audit_events"."action" = 'client.quota_exceeded';