// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../admin/audit.test.js';
import '../admin/clients-auth.test.js';
import '../admin/clients-create.test.js';
import '../admin/clients-lifecycle.test.js';
import '../admin/clients-list.test.js';
import '../admin/clients-validation.test.js';
import '../admin/config.test.js';
import '../admin/credentials.test.js';
import '../admin/effects.test.js';
import '../admin/federated-clients.test.js';
import '../admin/openapi.test.js';
import '../admin/services.test.js';
import '../admin/trusted-issuers.test.js';
import '../admin/tls-clients.test.js';
import '../admin/unstorable-input.test.js';
