// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../clients/bootstrap.test.js';
import '../clients/concurrency.test.js';
import '../clients/directory.test.js';
import '../clients/public-keys.test.js';
import '../federation/identities.test.js';
import '../clients/rules.test.js';
import '../clients/secret-shape.test.js';
import '../keys/encryption.test.js';
import '../keys/jws.test.js';
import '../keys/rotation.test.js';
import '../oauth/client-auth/authenticate.test.js';
import '../oauth/client-auth/jwt-ids.test.js';
