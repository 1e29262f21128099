import { count } from 'drizzle-orm';
import t from 'tap';
import { usedJwtIds } from '../../../src/db/schema.js';
import { claimJwtId, pruneUsedJwtIds } from '../../../src/oauth/client-auth/jwt-ids.js';
import { createTestDatabase } from '../../helpers.js';

t.test('a JWT id is accepted once per scope, across concurrent uses', async (t) => {
  const { database } = await createTestDatabase(t);
  await database.migrate(); // on PostgreSQL the test database starts empty
  const now = new Date('2026-01-01T00:00:00Z');
  const later = new Date(now.getTime() + 60_000);
  const uses = await Promise.all(Array.from({ length: 8 }, () => claimJwtId(database.db, 'client_assertion:a', 'j1', later, now)));
  t.equal(uses.filter(Boolean).length, 1, 'exactly one of eight concurrent uses wins');
  t.equal(await claimJwtId(database.db, 'client_assertion:a', 'j1', later, now), false, 'a replay is refused');
  t.equal(await claimJwtId(database.db, 'client_assertion:b', 'j1', later, now), true, 'another scope has its own ids');

  const afterExpiry = new Date(later.getTime() + 1);
  t.equal(
    await claimJwtId(database.db, 'client_assertion:a', 'j1', new Date(afterExpiry.getTime() + 60_000), afterExpiry),
    true,
    'the id of an expired JWT may come again (its own expiry refuses the old JWT)',
  );

  await pruneUsedJwtIds(database.db, new Date(later.getTime() + 120_000 + 1));
  const [rows] = await database.db.select({ n: count() }).from(usedJwtIds);
  t.equal(rows?.n, 0, 'pruning deletes expired ids');
});
