ALTER TABLE "client_credentials" ADD COLUMN "thumbprint" text;--> statement-breakpoint
CREATE INDEX "client_credentials_thumbprint_idx" ON "client_credentials" USING btree ("thumbprint");--> statement-breakpoint
-- The thumbprints of the keys registered before (RFC 7638: the required members in
-- lexicographic order, no spaces, SHA-256, base64url), as jose's calculateJwkThumbprint makes them.
UPDATE "client_credentials" SET "thumbprint" = rtrim(translate(encode(sha256(convert_to(
  CASE "jwk"->>'kty'
    WHEN 'EC' THEN '{"crv":"' || ("jwk"->>'crv') || '","kty":"EC","x":"' || ("jwk"->>'x') || '","y":"' || ("jwk"->>'y') || '"}'
    WHEN 'RSA' THEN '{"e":"' || ("jwk"->>'e') || '","kty":"RSA","n":"' || ("jwk"->>'n') || '"}'
    WHEN 'OKP' THEN '{"crv":"' || ("jwk"->>'crv') || '","kty":"OKP","x":"' || ("jwk"->>'x') || '"}'
  END, 'UTF8')), 'base64'), '+/', '-_'), '=')
WHERE "kind" = 'public_key' AND "jwk" IS NOT NULL;--> statement-breakpoint
-- A self-signed client's keys are its public-key credentials now; the copies go.
DELETE FROM "client_tls_identities" WHERE "kind" = 'public_key';
