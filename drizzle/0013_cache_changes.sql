CREATE TABLE "cache_changes" (
	"generation" bigint NOT NULL,
	"topic" text NOT NULL,
	"key" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "cache_changes_generation_idx" ON "cache_changes" USING btree ("generation");--> statement-breakpoint
CREATE INDEX "cache_changes_changed_at_idx" ON "cache_changes" USING btree ("changed_at");