// `npm test` runs the test files in a few processes, this one of them: see test/README.md.
import '../config.test.js';
import '../db/connection-faults.test.js';
import '../db/connection.test.js';
import '../db/generation.test.js';
import '../db/issuer.test.js';
import '../db/migrations.test.js';
import '../db/outage.test.js';
import '../db/pgbouncer.test.js';
import '../db/retention.test.js';
import '../db/roles.test.js';
import '../db/startup.test.js';
import '../deploy/kubernetes.test.js';
import '../keys/startup-keys.test.js';
import '../logger.test.js';
import '../management.test.js';
import '../metrics.test.js';
import '../suites.test.js';
