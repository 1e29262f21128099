import { readFileSync } from 'node:fs';
import t from 'tap';
import { API_TYPES_FILE, generateApiTypes, openApiDocument } from '../../console/scripts/api-types.js';

/**
 * The console's API client is typed by console/src/generated/admin-api.d.ts, generated
 * from Portier's OpenAPI document. When an admin API shape changes, this fails until the
 * file is regenerated (`npm run console:types`) and the console type-checks against it.
 */
t.test('the committed API types are what the current OpenAPI document generates', async (t) => {
  const expected = await generateApiTypes(await openApiDocument());
  t.ok(
    readFileSync(API_TYPES_FILE, 'utf8') === expected,
    'console/src/generated/admin-api.d.ts is up to date (else: npm run console:types)',
  );
});
