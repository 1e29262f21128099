// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../clients/concurrency.test.js';
import '../clients/rules.test.js';
import '../keys/encryption.test.js';
import '../keys/jws.test.js';
import '../keys/rotation.test.js';
import '../oauth/abuse.test.js';
import '../oauth/client-directory.test.js';
import '../oauth/introspection.test.js';
import '../oauth/jwt-ids.test.js';
import '../oauth/ip-ranges.test.js';
import '../oauth/jwks-verify.test.js';
import '../oauth/token-cache.test.js';
import '../oauth/token-errors.test.js';
import '../oauth/token.test.js';
import '../protection/budgets.test.js';
import '../protection/connections.test.js';
