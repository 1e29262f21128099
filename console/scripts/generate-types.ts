// `npm run console:types`: regenerates console/src/generated/admin-api.d.ts from the
// OpenAPI document of the current sources. test/console/api-types.test.ts fails when the
// committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { API_TYPES_FILE, generateApiTypes, openApiDocument } from './api-types.js';

writeFileSync(API_TYPES_FILE, await generateApiTypes(await openApiDocument()));
console.log(`wrote ${API_TYPES_FILE.pathname}`);
process.exit(0);
