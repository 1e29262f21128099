import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` turns src/db/schema.ts into SQL migrations in drizzle/.
// The same files are applied by both drivers (pg and PGlite) at start-up.
export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema.ts', './src/db/schema-state.ts', './src/db/schema-events.ts', './src/db/schema-usage.ts'],
  out: './drizzle',
});
