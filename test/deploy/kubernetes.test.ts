import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import t from 'tap';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';

// deploy/kubernetes: every manifest is valid against the Kubernetes API schemas
// (kubernetes-models; the ServiceMonitor against the Prometheus operator's CRD models),
// `-k` and `-f` apply the same objects, and the Deployment says what the recipe promises:
// two replicas, probes on the management port, non-root with a read-only root file system,
// requests and limits, topology spread, a grace period that fits the drain, the secrets.

const ROOT = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [field: string]: unknown;
}

/** The models that validate each kind the recipe uses. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ServiceAccount': ServiceAccount,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
};

/** Every object in a YAML file (one or several documents). */
function objectsIn(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
    return document.toJS() as KubeObject;
  });
}

const manifestFiles = readdirSync(join(ROOT, 'manifests'))
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => join(ROOT, 'manifests', name));
const manifests = manifestFiles.flatMap(objectsIn);
const optional = objectsIn(join(ROOT, 'optional', 'servicemonitor.yaml'));

function one(kind: string, name: string): KubeObject {
  const found = [...manifests, ...optional].find((object) => object.kind === kind && object.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
}

t.test('every object is valid against the Kubernetes schemas', async (t) => {
  for (const object of [...manifests, ...optional]) {
    const Model = MODELS[`${object.apiVersion} ${object.kind}`];
    const label = `${object.kind} ${object.metadata.name}`;
    if (Model === undefined) {
      t.fail(`${label}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    t.doesNotThrow(() => new Model(object as never).validate(), label);
  }
  // The validation can fail: a wrong type, a missing field.
  const deployment = one('Deployment', 'portier');
  t.throws(
    () => new Deployment({ ...deployment, spec: { ...deployment.spec, replicas: 'two' } } as never).validate(),
    'a string replicas fails',
  );
  t.throws(
    () => new Deployment({ ...deployment, spec: { ...deployment.spec, selector: undefined } } as never).validate(),
    'a missing selector fails',
  );
  const monitor = one('ServiceMonitor', 'portier');
  t.throws(
    () =>
      new ServiceMonitor({
        ...monitor,
        spec: { ...monitor.spec, endpoints: [{ port: 'management', interval: 'often' }] },
      } as never).validate(),
    'a ServiceMonitor with a bad interval fails',
  );
});

t.test('kubectl apply -k and -f apply the same objects; the ServiceMonitor is optional', async (t) => {
  const kustomization = parseYaml(readFileSync(join(ROOT, 'kustomization.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    resources: string[];
    images: Array<{ name: string }>;
  };
  t.equal(kustomization.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  t.equal(kustomization.kind, 'Kustomization');
  for (const resource of kustomization.resources) t.ok(existsSync(join(ROOT, resource)), `${resource} exists`);
  t.same(
    kustomization.resources.map((resource) => join(ROOT, resource)).sort(),
    manifestFiles,
    'the kustomization lists exactly the files of manifests/ (what -f applies)',
  );
  t.notOk(
    kustomization.resources.some((resource) => resource.includes('servicemonitor')),
    'the ServiceMonitor is not in the default kustomization',
  );
  const image = String(
    (one('Deployment', 'portier').spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]
      ?.image,
  );
  t.ok(
    kustomization.images.some((entry) => image.split(':')[0] === entry.name),
    'the kustomization can set the image',
  );
});

interface Container {
  name: string;
  image: string;
  ports: Array<{ name: string; containerPort: number }>;
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
  startupProbe?: { httpGet: { path: string; port: string } };
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
}

interface PodSpec {
  containers: Container[];
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number };
  topologySpreadConstraints?: Array<{ topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }>;
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
}

t.test('the Deployment is what the recipe promises', async (t) => {
  const deployment = one('Deployment', 'portier');
  const spec = deployment.spec as {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
  const pod = spec.template.spec;
  const [container] = pod.containers;
  if (container === undefined) throw new Error('no container');
  t.equal(spec.replicas, 2, 'two replicas');
  t.match(spec.template.metadata.labels, spec.selector.matchLabels, 'the selector matches the pods');

  const env = new Map(container.env.map((variable) => [variable.name, variable]));
  const managementPort = container.ports.find((port) => port.name === 'management')?.containerPort;
  t.equal(env.get('MANAGEMENT_PORT')?.value, String(managementPort), 'MANAGEMENT_PORT is the container port named management');
  t.equal(
    env.get('PORT')?.value,
    String(container.ports.find((port) => port.name === 'http')?.containerPort),
    'PORT is the port named http',
  );
  t.same(container.readinessProbe.httpGet, { path: '/readyz', port: 'management' }, 'readiness: /readyz on the management port');
  t.same(container.livenessProbe.httpGet, { path: '/healthz', port: 'management' }, 'liveness: /healthz on the management port');
  t.same(container.startupProbe?.httpGet, { path: '/healthz', port: 'management' });

  t.equal(pod.securityContext.runAsNonRoot, true, 'runAsNonRoot');
  t.ok((pod.securityContext.runAsUser ?? 0) > 0, 'a non-root uid');
  t.equal(container.securityContext.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
  t.equal(container.securityContext.allowPrivilegeEscalation, false);
  t.same(container.securityContext.capabilities?.drop, ['ALL']);
  t.equal(pod.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
  t.equal(pod.serviceAccountName, one('ServiceAccount', 'portier').metadata.name);

  for (const kind of ['requests', 'limits'] as const) {
    t.ok(container.resources[kind]?.cpu && container.resources[kind]?.memory, `${kind}: cpu and memory`);
  }
  t.equal(
    env.get('ARGON2_CONCURRENCY')?.value,
    String(Number(container.resources.limits?.cpu)),
    'ARGON2_CONCURRENCY matches the CPU limit',
  );
  const spread = pod.topologySpreadConstraints ?? [];
  t.same(
    spread.map((constraint) => constraint.topologyKey).sort(),
    ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'],
    'spread over zones and nodes',
  );
  for (const constraint of spread) t.match(spec.template.metadata.labels, constraint.labelSelector.matchLabels);

  // The grace period covers the preStop pause, the longest a request in flight may still be
  // arriving (REQUEST_TIMEOUT) and the rest of the drain.
  const preStop = Number(container.lifecycle?.preStop?.exec?.command.at(-1) ?? 0);
  const requestTimeout = loadConfig({ REQUEST_TIMEOUT: env.get('REQUEST_TIMEOUT')?.value }).protection.requestTimeoutMs / 1000;
  t.ok((pod.terminationGracePeriodSeconds ?? 30) >= preStop + requestTimeout + 10, 'the grace period fits the drain');

  const fromSecret = [...env.values()].filter((variable) => variable.valueFrom?.secretKeyRef !== undefined);
  t.same(
    fromSecret.map((variable) => [
      variable.name,
      variable.valueFrom?.secretKeyRef?.key,
      variable.valueFrom?.secretKeyRef?.optional === true,
    ]),
    [
      ['DATABASE_URL', 'DATABASE_URL', false],
      ['KEY_ENCRYPTION_KEY', 'KEY_ENCRYPTION_KEY', false],
      ['OIDC_CLIENT_SECRET', 'OIDC_CLIENT_SECRET', true],
    ],
    'secrets come from the Secret, never a value in the manifest',
  );
  // Every variable is one Portier reads (OIDC_CLIENT_SECRET: the people sign-in's, optional).
  const unknown = [...env.keys()].filter(
    (name) => !(CONFIG_VARIABLES as readonly string[]).includes(name) && name !== 'OIDC_CLIENT_SECRET',
  );
  t.same(unknown, [], 'no variable Portier does not read');
  const values = Object.fromEntries(
    [...env.values()].flatMap((variable) => (variable.value === undefined ? [] : [[variable.name, variable.value]])),
  );
  t.doesNotThrow(
    () => loadConfig({ ...values, DATABASE_URL: 'postgres://portier@db:5432/portier' }),
    'the values are a valid configuration',
  );
});

t.test('the Services, the PodDisruptionBudget and the ServiceMonitor select the pods and ports they mean', async (t) => {
  const deployment = one('Deployment', 'portier');
  const template = (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } }).template;
  const portNames = template.spec.containers.flatMap((container) => container.ports.map((port) => port.name));
  for (const name of ['portier', 'portier-management']) {
    const service = one('Service', name).spec as { selector: Record<string, string>; ports: Array<{ targetPort: string; name: string }> };
    t.match(template.metadata.labels, service.selector, `${name} selects the pods`);
    for (const port of service.ports)
      t.ok(portNames.includes(port.targetPort), `${name}: port ${port.name} targets a named container port`);
  }
  t.same(
    (one('Service', 'portier').spec as { ports: Array<{ targetPort: string }> }).ports.map((port) => port.targetPort),
    ['http'],
    'the public Service does not expose the management port',
  );
  const budget = one('PodDisruptionBudget', 'portier').spec as { minAvailable: number; selector: { matchLabels: Record<string, string> } };
  t.match(template.metadata.labels, budget.selector.matchLabels);
  t.equal(budget.minAvailable, 1);
  const monitor = one('ServiceMonitor', 'portier').spec as {
    selector: { matchLabels: Record<string, string> };
    endpoints: Array<{ port: string; path: string }>;
  };
  const management = one('Service', 'portier-management');
  t.match(management.metadata.labels, monitor.selector.matchLabels, 'the ServiceMonitor selects the management Service');
  t.notMatch(one('Service', 'portier').metadata.labels ?? {}, monitor.selector.matchLabels, 'and not the public one');
  t.same(
    monitor.endpoints.map((endpoint) => [endpoint.port, endpoint.path]),
    [['management', '/metrics']],
  );
});

t.test('the image runs as a numeric non-root user', async (t) => {
  const dockerfile = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
  const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((match) => match[1]);
  t.ok(users.length > 0, 'a USER line');
  const last = users.at(-1) ?? '';
  // A numeric uid lets the kubelet check runAsNonRoot without a runAsUser in the pod.
  t.match(last, /^[1-9]\d*(:\d+)?$/, 'numeric and not 0');
  const pod = (one('Deployment', 'portier').spec as { template: { spec: PodSpec } }).template.spec;
  t.equal(String(pod.securityContext.runAsUser), last.split(':')[0], 'the pod runs as the image’s user');
});
