/**
 * The import rules of docs/architecture.md ("Which way imports go"), checked by
 * `npm run lint`: no circles, and no layer importing one above it.
 */
const DOMAIN = '^src/(access|audit|clients|services|keys|federation|people|policy|events)/';
/** Above the domain, whose functions it calls; below the admin API and the CLI, which call it. */
const CONFIG_AS_CODE = '^src/config-as-code/';
const EDGES = '^src/(oauth|admin)/';
const WIRING = '^src/(http/|cli/|portier\\.ts|app\\.ts|prepare\\.ts|server\\.ts|main\\.ts|cli\\.ts)';

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'modules import each other in a circle', from: {}, to: { circular: true } },
    {
      name: 'lib-stands-alone',
      severity: 'error',
      comment: 'lib/ holds small pure helpers: it imports nothing else of Portier',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'schemas-stand-alone',
      severity: 'error',
      comment: 'schemas/ define the API shapes: they import nothing else of Portier',
      from: { path: '^src/schemas/' },
      to: { path: '^src/', pathNot: '^src/schemas/' },
    },
    {
      name: 'foundation-below-domain',
      severity: 'error',
      comment: 'configuration, logging, metrics, protection and the database layer sit below the domain',
      from: { path: '^src/(config|logger|metrics)\\.ts|^src/(config|protection|db|tls)/' },
      to: { path: `${DOMAIN}|${CONFIG_AS_CODE}|${EDGES}|${WIRING}` },
    },
    {
      name: 'only-stores-touch-tables',
      severity: 'error',
      comment: 'the tables are queried by the store of their concern (src/<concern>/store.ts) and the database layer only; everything else calls a store',
      from: {
        path: '^src/',
        pathNot: [
          '^src/db/',
          '^src/[^/]+/store\\.ts$',
          // Temporary, until their queries move to clients/store.ts and events/store.ts:
          // clients/ and events/, being changed elsewhere at the time of writing.
          '^src/clients/',
          '^src/events/',
        ],
      },
      to: { path: '^src/db/schema[^/]*\\.ts$' },
    },
    {
      name: 'domain-below-edges',
      severity: 'error',
      comment: 'the plain functions of the domain know nothing of HTTP or of the endpoints',
      from: { path: DOMAIN },
      to: { path: `${CONFIG_AS_CODE}|${EDGES}|${WIRING}` },
    },
    {
      name: 'config-as-code-below-edges',
      severity: 'error',
      comment: 'configuration as code is plain functions over the domain: no HTTP, no command line',
      from: { path: CONFIG_AS_CODE },
      to: { path: `${EDGES}|${WIRING}` },
    },
    {
      name: 'edges-below-wiring',
      severity: 'error',
      comment: 'the OAuth endpoints and the admin API do not import the app that wires them',
      from: { path: EDGES },
      to: { path: WIRING },
    },
    {
      name: 'oauth-below-admin',
      severity: 'error',
      comment: 'the admin API may use the OAuth code (access tokens), not the other way round',
      from: { path: '^src/oauth/' },
      to: { path: '^src/admin/' },
    },
    {
      name: 'console-stands-alone',
      severity: 'error',
      comment: 'the web console talks to Portier over HTTP only: of the server it imports nothing but the types generated from the OpenAPI document',
      from: { path: '^console/src/' },
      to: { path: '^(src|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.tsx', '.js'] },
  },
};
