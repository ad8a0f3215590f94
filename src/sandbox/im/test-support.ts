/**
 * Helpers shared by the IM simulator's tests: a raw HTTP client (node:http, so that no header is added behind
 * the test's back — `fetch` always sends `Accept: *\/*`), condition polling with a deadline, and the documents
 * of im.md §12.
 */
import { request } from "node:http";

/** An answer as it came off the wire. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends exactly the given headers (plus Host and Content-Length) and returns status, headers and body text. */
export function call(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<RawAnswer> {
  const url = new URL(path, base);
  const body = options.body === undefined ? undefined : Buffer.from(options.body, "utf8");
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: { ...options.headers, ...(body ? { "content-length": String(body.length) } : {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs` with the last value
 * seen. Tests wait on conditions, never on fixed sleeps.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 3000,
  intervalMs = 5,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Delays of 0: every step happens synchronously, as IM with the Dummy connector looks from outside. */
export const INSTANT = { create: 0, pending: 0, running: 0, configure: 0, add: 0, delete: 0 } as const;

/** im.md §12's `$AUTH`: IM line + Dummy cloud line, joined by the two characters backslash and n. */
export const DEMO_AUTH =
  "id = im; type = InfrastructureManager; username = demo; password = demopass\\nid = dummy; type = Dummy";

/** The seed walkthrough's credentials (the simulator's default user) with a Dummy cloud. */
export const TEST_AUTH =
  "id = im; type = InfrastructureManager; username = test; password = test\\nid = dummy; type = Dummy";

/** im.md §12's k8s.yaml: normative types only, `wn` scalable with `default_instances` (1 or 3). */
export function k8sYaml(workers = 1): string {
  return `tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    front:
      type: tosca.nodes.Compute
      capabilities:
        host:
          properties:
            num_cpus: 2
            mem_size: 2 GB
        os:
          properties:
            type: linux
            distribution: ubuntu
    wn:
      type: tosca.nodes.Compute
      capabilities:
        scalable:
          properties:
            min_instances: 0
            max_instances: 5
            default_instances: ${workers}
  outputs:
    front_ip:
      value: { get_attribute: [ front, private_address ] }
    kubeconfig:
      value: { concat: [ "apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster:\\n    server: https://", { get_attribute: [ front, private_address ] }, ":6443\\n" ] }
`;
}

/** im.md §12's simple.radl. */
export const SIMPLE_RADL = `network net (outbound = 'no')
system node (
cpu.count >= 1 and
memory.size >= 512m and
net_interface.0.connection = 'net' and
disk.0.os.name = 'linux' and
disk.0.image.url = 'dummy://image'
)
deploy node 1
contextualize ()
`;

/** im.md §12's add.radl. */
export const ADD_RADL = `network net
system node
deploy node 2
`;
