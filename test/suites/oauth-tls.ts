// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../oauth/challenges.test.js';
import '../oauth/dpop-interop.test.js';
import '../oauth/dpop.test.js';
import '../oauth/jwks-uri.test.js';
import '../oauth/jwks-verify.test.js';
import '../oauth/mtls-aliases.test.js';
import '../oauth/mtls.test.js';
import '../oauth/private-key-jwt.test.js';
import '../tls/client-certificate.test.js';
import '../tls/spiffe.test.js';
import '../tls/termination.test.js';
