CREATE TABLE "used_jwt_ids" (
	"scope" text NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "used_jwt_ids_scope_jti_pk" PRIMARY KEY("scope","jti")
);
--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "jwks_uri" text;--> statement-breakpoint
ALTER TABLE "clients" ADD COLUMN "dpop_bound" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "signing_keys" ADD COLUMN "activates_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "used_jwt_ids_expires_idx" ON "used_jwt_ids" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_next" ON "signing_keys" USING btree ("status") WHERE "signing_keys"."status" = 'next';