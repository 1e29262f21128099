// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../audit/denials.test.js';
import '../oauth/abuse.test.js';
import '../lib/outbound.test.js';
import '../oauth/token-claims.test.js';
import '../protection/argon2-pool.test.js';
import '../protection/budgets.test.js';
import '../protection/client-errors.test.js';
import '../protection/connections.test.js';
