CREATE TABLE "console_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"subject" text NOT NULL,
	"name" text NOT NULL,
	"owner" text NOT NULL,
	"role" text NOT NULL,
	"id_token" text,
	"ip" text,
	"created_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "console_sessions_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "actor_name" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "created_by_name" text;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "self_service" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "console_sessions_subject_idx" ON "console_sessions" USING btree ("subject");--> statement-breakpoint
CREATE INDEX "console_sessions_expires_idx" ON "console_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "console_sessions_last_seen_idx" ON "console_sessions" USING btree ("last_seen_at");