/** Minimal valid bodies of every kind, for tests and benchmarks. */
import type { KrakeClient } from "../../src/client/index.js";
import { Cluster, GlobalCloud, GlobalInfrastructureProvider } from "../../src/resources/registry.js";

export const kubeconfig = (server = "https://127.0.0.1:6443") => ({
  apiVersion: "v1",
  kind: "Config",
  clusters: [{ name: "c", cluster: { server, "certificate-authority-data": "Q0E=" } }],
  users: [{ name: "u", user: { token: "secret-token" } }],
  contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
  "current-context": "ctx",
});

export const clusterTosca = () => ({
  tosca_definitions_version: "tosca_simple_yaml_1_0",
  imports: [{ grycap_custom_types: "https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml" }],
  topology_template: {
    inputs: { wn_num: { type: "integer", default: 1 } },
    node_templates: { front: { type: "tosca.nodes.indigo.Compute" } },
    outputs: { kubeconfig: { value: { get_attribute: ["front", "tosca_endpoint"] } } },
  },
});

/** A cluster TOSCA with a worker pool: `wn_num` workers of `wn_cpus` CPUs and `wn_mem` memory (for automation). */
export const poolTosca = (workers = 1, cpus = 2, memory = "4 GB") => ({
  tosca_definitions_version: "tosca_simple_yaml_1_0",
  imports: [{ grycap_custom_types: "https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml" }],
  topology_template: {
    inputs: {
      wn_num: { type: "integer", default: workers },
      wn_cpus: { type: "integer", default: cpus },
      wn_mem: { type: "scalar-unit.size", default: memory },
    },
    node_templates: {
      front: { type: "tosca.nodes.indigo.Compute" },
      wn: {
        type: "tosca.nodes.indigo.Compute",
        capabilities: {
          scalable: { properties: { count: { get_input: "wn_num" } } },
          host: { properties: { num_cpus: { get_input: "wn_cpus" }, mem_size: { get_input: "wn_mem" } } },
        },
      },
    },
    outputs: { kubeconfig: { value: { get_attribute: ["front", "tosca_endpoint"] } } },
  },
});

export const deployment = (name = "echo-demo") => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: "echo", image: "k8s.gcr.io/echoserver:1.10", ports: [{ containerPort: 8080 }] }],
      },
    },
  },
});

/**
 * Krake's echo-demo as an application manifest: a Deployment and a NodePort Service. `cpu` is the pod's
 * request as written (e.g. "0.1", which the server normalises to "100m").
 */
export function echoDemo(name: string, opts: { replicas?: number; nodePort?: number; cpu?: string } = {}) {
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name },
      spec: {
        replicas: opts.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: "echo",
                image: "k8s.gcr.io/echoserver:1.10",
                ports: [{ containerPort: 8080 }],
                resources: { requests: { cpu: opts.cpu ?? "10m", memory: "16Mi" } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name },
      spec: {
        type: "NodePort",
        selector: { app: name },
        ports: [{ port: 8080, targetPort: 8080, ...(opts.nodePort ? { nodePort: opts.nodePort } : {}) }],
      },
    },
  ];
}

const template = (name: string) => ({ metadata: { name }, spec: { tosca: poolTosca(), clusters: { min: 0, max: 2 } } });

export const bodies = {
  GlobalClusterTemplate: template,
  ClusterTemplate: template,
  Role: (name: string) => ({
    metadata: { name },
    rules: [{ api: "", resources: [""], namespaces: [""], verbs: ["get", "list"] }],
  }),
  RoleBinding: (name: string) => ({ metadata: { name }, users: ["alice"], roles: ["reader"] }),
  GlobalMetric: (name: string) => ({
    metadata: { name },
    spec: { allowed_values: [], min: 0, max: 1, provider: { name: "static_provider", metric: name } },
  }),
  Metric: (name: string) => ({
    metadata: { name },
    spec: { allowed_values: [], min: 0, max: 1, provider: { name: "prom", metric: name } },
  }),
  GlobalMetricsProvider: (name: string) => ({
    metadata: { name },
    spec: { type: "static", static: { metrics: { electricity_cost_1: 0.9 } } },
  }),
  MetricsProvider: (name: string) => ({
    metadata: { name },
    spec: { type: "prometheus", prometheus: { url: "http://localhost:9090" } },
  }),
  Lease: (name: string) => ({ metadata: { name }, spec: { holder: "copy-a", duration_seconds: 15 } }),
  GlobalInfrastructureProvider: (name: string) => ({
    metadata: { name },
    spec: { type: "im", im: { url: "http://localhost:8800", username: "test", password: "test" } },
  }),
  InfrastructureProvider: (name: string) => ({
    metadata: { name },
    spec: { type: "im", im: { url: "http://localhost:8800", token: "tkn" } },
  }),
  GlobalCloud: (name: string) => ({
    metadata: { name },
    spec: {
      type: "openstack",
      openstack: {
        url: "https://keystone.example:5000/v3",
        auth: {
          type: "password",
          password: { user: { username: "u", password: "p" }, project: { name: "proj" } },
        },
        infrastructure_provider: { name: "im-provider" },
      },
    },
  }),
  Cloud: (name: string) => ({
    metadata: { name },
    spec: {
      type: "openstack",
      openstack: {
        url: "https://keystone.example:5000/v3",
        auth: {
          type: "password",
          password: { user: { username: "u", password: "p" }, project: { name: "proj" } },
        },
        infrastructure_provider: { name: "im-provider", namespaced: true },
      },
    },
  }),
  Application: (name: string) => ({
    metadata: { name },
    spec: { manifest: [deployment()], constraints: { cluster: {} } },
  }),
  Cluster: (name: string) => ({
    metadata: { name },
    spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} } },
  }),
} as const;

/**
 * A global IM provider at `imUrl` (the simulator's default user) and a global OpenStack cloud using it: what
 * the infrastructure tests and benchmarks build on.
 */
export async function seedImCloud(
  client: KrakeClient,
  imUrl: string,
  names: { provider?: string; cloud?: string } = {},
): Promise<void> {
  const provider = names.provider ?? "im-provider";
  await client.kind(GlobalInfrastructureProvider).create({
    metadata: { name: provider },
    spec: { type: "im", im: { url: imUrl, username: "test", password: "test" } },
  } as any);
  const cloud = bodies.GlobalCloud(names.cloud ?? "os-cloud");
  cloud.spec.openstack.infrastructure_provider.name = provider;
  await client.kind(GlobalCloud).create(cloud as any);
}

/** A registered cluster (a kubeconfig nobody serves) that already reports ONLINE: somewhere to schedule to. */
export async function createOnlineCluster(client: KrakeClient, name: string, namespace: string): Promise<void> {
  const cluster = await client
    .kind(Cluster)
    .create({ metadata: { name }, spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} } } } as any, namespace);
  cluster.status.state = "ONLINE";
  await client.kind(Cluster).updateStatus(cluster);
}
