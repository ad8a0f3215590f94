import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it, type TestContext } from "node:test";
import { stringify } from "yaml";
import { buildZip, type ZipFileSpec } from "./testdata/zipwriter.js";
import {
  ToscaError,
  ToscaFetchError,
  shownUrl,
  translateApplication,
  translateCsar,
  translateTemplate,
} from "./tosca.js";

// Krake's templates/applications/tosca/echo-demo-tosca.yaml (the TOSCA example of docs/dev/tosca.rst).
const ECHO_DEMO = `tosca_definitions_version: tosca_simple_yaml_1_0

imports:
  - ec3_custom_types: https://raw.githubusercontent.com/grycap/ec3/tosca/tosca/custom_types.yaml

description: TOSCA template for launching an echo-demo by Krake

topology_template:
  inputs:
    echo_demo_replicas:
      type: integer
      description: Echo demo replica count
      default: 1

    echo_demo_port:
      type: integer
      description: Echo demo container port
      default: 8080

  node_templates:
    echo-demo-deployment:
      type: tosca.nodes.indigo.KubernetesObject
      properties:
        spec:
          concat:
            - |-
              apiVersion: apps/v1
              kind: Deployment
              metadata:
                name: echo-demo
              spec:
                replicas:
            - get_input: echo_demo_replicas
            - |2-  # Explicit indentation (2) of multi-line block with no newline at end (-)

                selector:
                  matchLabels:
                    app: echo
                template:
                  metadata:
                    labels:
                      app: echo
                  spec:
                    containers:
                    - name: echo
                      image: registry.k8s.io/echoserver:1.10
                      ports:
                      - containerPort:
            - get_input: echo_demo_port
    echo-demo-service:
      type: tosca.nodes.indigo.KubernetesObject
      properties:
        spec:
          concat:
            - |-
              apiVersion: v1
              kind: Service
              metadata:
                name: echo-demo
              spec:
                type: NodePort
                selector:
                  app: echo
                ports:
                - port: 8080
                  protocol: TCP
                  targetPort:
            - get_input: echo_demo_port
`;

const ECHO_DEMO_MANIFESTS = [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "echo-demo" },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: "echo" } },
      template: {
        metadata: { labels: { app: "echo" } },
        spec: {
          containers: [
            { name: "echo", image: "registry.k8s.io/echoserver:1.10", ports: [{ containerPort: 8080 }] },
          ],
        },
      },
    },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "echo-demo" },
    spec: {
      type: "NodePort",
      selector: { app: "echo" },
      ports: [{ port: 8080, protocol: "TCP", targetPort: 8080 }],
    },
  },
];

// Krake's templates/applications/tosca/TOSCA-Metadata/TOSCA.meta
const ECHO_DEMO_META = `TOSCA-Meta-File-Version: 1.0
CSAR-Version: 1.1
Created-By: Krake
Entry-Definitions: echo-demo-tosca.yaml
`;

const deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "nginx" },
  spec: { replicas: 1, template: { spec: { containers: [{ name: "nginx", image: "nginx:1.14.2" }] } } },
};

type Doc = Record<string, any>;

/** A template with one KubernetesObject node per entry of `specs`. */
function template(specs: Record<string, unknown>, inputs: Doc = {}): Doc {
  const nodes: Doc = {};
  for (const [name, spec] of Object.entries(specs)) {
    nodes[name] = { type: "tosca.nodes.indigo.KubernetesObject", properties: { spec } };
  }
  return {
    tosca_definitions_version: "tosca_simple_yaml_1_0",
    topology_template: { inputs, node_templates: nodes },
  };
}

function toscaError(field: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ToscaError, `a ToscaError, not ${String(err)}`);
    assert.equal(err.field, field);
    assert.match(err.message, message);
    assert.equal(err.transient, false);
    return true;
  };
}

function fetchError(transient: boolean, message: RegExp, status?: number) {
  return (err: unknown) => {
    assert.ok(err instanceof ToscaFetchError, `a ToscaFetchError, not ${String(err)}`);
    assert.equal(err.transient, transient);
    assert.equal(err.status, status);
    assert.match(err.message, message);
    return true;
  };
}

const NODE = "spec.tosca.topology_template.node_templates";

describe("TOSCA templates", () => {
  it("renders concat, get_input and get_property", () => {
    const doc = template(
      {
        web: {
          concat: [
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ",
            { get_input: "name" },
            "-",
            { get_property: ["SELF", "suffix"] },
            "\nspec:\n  replicas:",
            { get_input: "replicas" },
            "\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:",
            { get_input: "tag" },
            "\n        ports:\n        - {name: http, containerPort:",
            { get_property: ["config", "port"] },
            "}\n        env:\n        - name: DEBUG\n          value: '",
            { get_input: "debug" },
            "'",
          ],
        },
        config: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: { get_property: ["web", "suffix"] } },
          data: { port: { concat: ["", { get_property: ["SELF", "port"] }] }, defaultMode: "0644" },
        },
      },
      {
        name: { type: "string", default: "shop" },
        replicas: { type: "integer", default: 3 },
        tag: { type: "string", default: "1.25" },
        debug: { type: "boolean", default: false },
      },
    );
    doc.topology_template.node_templates.web.properties.suffix = "frontend";
    doc.topology_template.node_templates.config.properties.port = 8080;
    const manifests = translateTemplate(doc);
    assert.deepEqual(manifests, [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        // A value built from pieces stays in one piece (Krake would render "shop- frontend").
        metadata: { name: "shop-frontend" },
        spec: {
          // After a bare key the value is separated, as Krake's templates expect.
          replicas: 3,
          template: {
            spec: {
              containers: [
                {
                  name: "web",
                  // Not after a key: no space (Krake would render "nginx: 1.25", which is not YAML).
                  image: "nginx:1.25",
                  ports: [{ name: "http", containerPort: 8080 }],
                  env: [{ name: "DEBUG", value: "false" }],
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "frontend" },
        data: { port: "8080", defaultMode: "0644" },
      },
    ]);
    // The template is not modified.
    assert.deepEqual(doc.topology_template.node_templates.config.properties.spec.metadata, {
      name: { get_property: ["web", "suffix"] },
    });
  });

  it("takes a spec that is already a mapping, with typed function values inside", () => {
    const doc = template(
      {
        nginx: {
          ...deployment,
          spec: { ...deployment.spec, replicas: { get_input: "replicas" } },
        },
        secret: {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "s" },
          // A one-key mapping named like an unsupported TOSCA function but shaped as data stays data.
          stringData: { token: "abc" },
        },
      },
      { replicas: { type: "integer", default: 2 } },
    );
    const [nginx, secret] = translateTemplate(doc);
    assert.equal((nginx.spec as Doc).replicas, 2);
    assert.deepEqual(secret.stringData, { token: "abc" });
  });

  it("reads rendered specs as YAML 1.1, as Krake and kubectl do", () => {
    const [m] = translateTemplate(
      template({
        cm: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndefaultMode: 0644\nenabled: yes\n",
      }),
    );
    assert.equal(m.defaultMode, 420);
    assert.equal(m.enabled, true);
  });

  it("translates Krake's echo-demo example and the example of docs/dev/tosca.rst", async () => {
    const { parseToscaYaml } = await import("../resources/validators/tosca-yaml.js");
    assert.deepEqual(translateTemplate(parseToscaYaml(ECHO_DEMO)), ECHO_DEMO_MANIFESTS);
    const docs = template(
      {
        "example-pod": {
          concat: [
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nginx\nspec:\n  containers:\n  - name: nginx\n" +
              "    image: nginx:1.14.2\n    ports:\n    - containerPort:",
            { get_input: "container_port" },
          ],
        },
      },
      { container_port: { type: "integer", description: "Container port", default: 80 } },
    );
    const [pod] = translateTemplate(docs);
    assert.deepEqual((pod.spec as Doc).containers[0].ports, [{ containerPort: 80 }]);
  });

  it("translates Krake's test template (the manifest as the spec, custom type declared in data_types)", () => {
    const doc = template({ nginx: deployment });
    doc.data_types = {
      "tosca.nodes.indigo.KubernetesObject": {
        derived_from: "tosca.nodes.Root",
        properties: { spec: { type: "string", required: true } },
      },
    };
    assert.deepEqual(translateTemplate(doc), [deployment]);
  });

  it("refuses other node types and missing or empty specs", () => {
    const doc = template({ nginx: deployment });
    doc.topology_template.node_templates.nginx.type = "tosca.nodes.Compute";
    assert.throws(
      () => translateTemplate(doc),
      toscaError(
        `${NODE}.nginx.type`,
        /node template 'nginx' has the type 'tosca.nodes.Compute'; only tosca.nodes.indigo.KubernetesObject/,
      ),
    );
    for (const spec of [undefined, "", "  ", {}, null]) {
      assert.throws(
        () => translateTemplate(template({ nginx: spec })),
        toscaError(`${NODE}.nginx.properties.spec`, /node template 'nginx' has no properties.spec/),
      );
    }
    const noProps = template({ nginx: deployment });
    delete noProps.topology_template.node_templates.nginx.properties;
    assert.throws(
      () => translateTemplate(noProps),
      toscaError(`${NODE}.nginx.properties.spec`, /no properties.spec/),
    );
  });

  it("refuses templates without topology or node templates, or that fail validation", () => {
    const doc = template({ nginx: deployment });
    delete doc.topology_template;
    assert.throws(
      () => translateTemplate(doc),
      toscaError("spec.tosca.topology_template", /no topology_template/),
    );
    assert.throws(
      () => translateTemplate(template({})),
      toscaError("spec.tosca.topology_template.node_templates", /no node templates/),
    );
    const noVersion = template({ nginx: deployment });
    delete noVersion.tosca_definitions_version;
    assert.throws(
      () => translateTemplate(noVersion),
      toscaError(
        "spec.tosca.tosca_definitions_version",
        /^Invalid TOSCA template content. The field 'tosca_definitions_version' is missing/,
      ),
    );
    assert.throws(
      () => translateTemplate([1], "spec.csar[a.yaml]"),
      toscaError("spec.csar[a.yaml]", /must be a mapping/),
    );
  });

  it("names unsupported functions and where they are", () => {
    // Krake's own test: token is not supported.
    assert.throws(
      () => translateTemplate(template({ nginx: { token: ["test_token", ":", 1] } })),
      toscaError(
        `${NODE}.nginx.properties.spec.token`,
        /function token \(in node template 'nginx'\) is not supported; only concat, get_input, get_property are/,
      ),
    );
    assert.throws(
      () =>
        translateTemplate(
          template({ web: { concat: ["kind: Pod\nname:", { get_attribute: ["SELF", "ip"] }] } }),
        ),
      toscaError(
        `${NODE}.web.properties.spec.concat.1.get_attribute`,
        /function get_attribute \(in node template 'web'\)/,
      ),
    );
  });

  it("reports inputs that do not exist or have no default", () => {
    assert.throws(
      () => translateTemplate(template({ web: { concat: ["a:", { get_input: "nope" }] } })),
      toscaError(
        `${NODE}.web.properties.spec.concat.1.get_input`,
        /input 'nope' used by node template 'web' is not defined/,
      ),
    );
    assert.throws(
      () =>
        translateTemplate(
          template({ web: { concat: ["a:", { get_input: "n" }] } }, { n: { type: "integer" } }),
        ),
      toscaError(
        `${NODE}.web.properties.spec.concat.1.get_input`,
        /input 'n' used by node template 'web' has no default value/,
      ),
    );
    const nested = template(
      { web: { ...deployment, metadata: { name: { get_input: ["names", 1] } } } },
      { names: { type: "list", default: ["a", "b"] } },
    );
    assert.equal((translateTemplate(nested)[0].metadata as Doc).name, "b");
  });

  it("reports get_property problems: missing nodes or properties, HOST, cycles", () => {
    const prop = (args: unknown[]) =>
      template({ web: { ...deployment, metadata: { name: { get_property: args } } } });
    assert.throws(
      () => translateTemplate(prop(["db", "name"])),
      toscaError(
        `${NODE}.web.properties.spec.metadata.name.get_property`,
        /node template 'db', which does not exist/,
      ),
    );
    assert.throws(
      () => translateTemplate(prop(["SELF", "name"])),
      toscaError(
        `${NODE}.web.properties.spec.metadata.name.get_property`,
        /node template 'web' has no property 'name'/,
      ),
    );
    assert.throws(() => translateTemplate(prop(["HOST", "name"])), /refers to HOST, which is not supported/);
    assert.throws(
      () => translateTemplate(prop(["SELF", "spec"])),
      /refers back to itself: web.spec -> web.spec/,
    );
    const loop = prop(["SELF", "a"]);
    Object.assign(loop.topology_template.node_templates.web.properties, {
      a: { get_property: ["SELF", "b"] },
      b: { concat: ["x", { get_property: ["web", "a"] }] },
    });
    assert.throws(
      () => translateTemplate(loop),
      /refers back to itself: web.spec -> web.a -> web.b -> web.a/,
    );
    const capability = prop(["SELF", "endpoint", "name"]);
    capability.topology_template.node_templates.web.capabilities = {
      endpoint: { properties: { name: "from-cap" } },
    };
    assert.equal((translateTemplate(capability)[0].metadata as Doc).name, "from-cap");
  });

  it("bounds templates whose functions multiply", () => {
    const chain = (step: (prev: unknown) => unknown) => {
      const props: Doc = { p0: "xxxxxxxxxx" };
      for (let i = 1; i <= 40; i++) props[`p${i}`] = step({ get_property: ["SELF", `p${i - 1}`] });
      const doc = template({ web: { ...deployment, data: { get_property: ["SELF", "p40"] } } });
      Object.assign(doc.topology_template.node_templates.web.properties, props);
      return doc;
    };
    assert.throws(
      () => translateTemplate(chain((prev) => ({ concat: [prev, prev] }))),
      toscaError(
        `${NODE}.web.properties.p17.concat`,
        /concat \(in node template 'web'\) renders more than 1048576 characters/,
      ),
    );
    assert.throws(
      () => translateTemplate(chain((prev) => [prev, prev])),
      /takes more than 1000000 steps to render/,
    );
  });

  it("requires each spec to render to one valid Kubernetes object, and no duplicates", () => {
    assert.throws(
      () => translateTemplate(template({ web: "apiVersion: v1\nkind: [unclosed" })),
      toscaError(`${NODE}.web.properties.spec`, /^The spec of node template 'web' is not valid YAML/),
    );
    assert.throws(
      () => translateTemplate(template({ web: "- a\n- b\n" })),
      toscaError(`${NODE}.web.properties.spec`, /^The spec of node template 'web' must be a YAML mapping/),
    );
    assert.throws(
      () => translateTemplate(template({ web: { get_input: "n" } }, { n: { type: "integer", default: 3 } })),
      toscaError(`${NODE}.web.properties.spec`, /must render to a Kubernetes object .* not a number/),
    );
    assert.throws(
      () => translateTemplate(template({ web: "kind: Pod\nmetadata:\n  name: x\n" })),
      toscaError(
        `${NODE}.web.properties.spec`,
        /node template 'web' is not a valid Kubernetes object: Field 'apiVersion' not found in resource at node template 'web'/,
      ),
    );
    assert.throws(
      () => translateTemplate(template({ a: deployment, b: deployment })),
      toscaError(
        `${NODE}.b.properties.spec`,
        /Duplicate resource at node template 'b'.*already defined at node template 'a'/,
      ),
    );
  });
});

describe("translateApplication", () => {
  it("translates only when there is no manifest, preferring tosca over csar", async () => {
    const tosca = template({ nginx: deployment });
    assert.equal(await translateApplication({ manifest: [deployment], tosca }), null);
    assert.equal(await translateApplication({ manifest: [], tosca: {}, csar: null }), null);
    assert.equal(await translateApplication({}), null);
    // tosca wins: the csar URL is never fetched (nothing listens there).
    assert.deepEqual(await translateApplication({ manifest: [], tosca, csar: "http://127.0.0.1:9/x.csar" }), [
      deployment,
    ]);
  });

  it("refuses URLs of the wrong form without fetching them", async () => {
    await assert.rejects(
      translateApplication({ tosca: "http://example.invalid/x.json" }),
      toscaError("spec.tosca", /Invalid TOSCA template URL/),
    );
    await assert.rejects(
      translateApplication({ tosca: "file:///etc/x.yaml" }),
      toscaError("spec.tosca", /Only http and https/),
    );
    await assert.rejects(
      translateApplication({ csar: "ftp://example.invalid/x.csar" }),
      toscaError("spec.csar", /Only http and https/),
    );
    await assert.rejects(
      translateApplication({ tosca: 42 as never }),
      toscaError("spec.tosca", /must be a template or a URL/),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Downloads from a local server

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(t: TestContext, handler: Handler): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Serves fixed files; anything else is a 404. */
function files(map: Record<string, string | Buffer>): Handler {
  return (req, res) => {
    const body = map[req.url ?? ""];
    if (body === undefined) {
      res.writeHead(404).end("not here");
      return;
    }
    res.writeHead(200, { "Content-Length": Buffer.byteLength(body) }).end(body);
  };
}

describe("TOSCA template URLs", () => {
  it("downloads and translates a template", async (t) => {
    const base = await serve(t, files({ "/echo-demo-tosca.yaml": ECHO_DEMO }));
    assert.deepEqual(
      await translateApplication({ manifest: [], tosca: `${base}/echo-demo-tosca.yaml` }),
      ECHO_DEMO_MANIFESTS,
    );
  });

  it("reports a 404 as permanent, without the URL's credentials", async (t) => {
    const base = await serve(t, files({}));
    const url = base.replace("http://", "http://user:s3cret@") + "/missing.yaml";
    await assert.rejects(translateApplication({ tosca: url }), (err: unknown) => {
      fetchError(false, /HTTP 404 Not Found/, 404)(err);
      const e = err as ToscaFetchError;
      assert.equal(e.field, "spec.tosca");
      assert.equal(e.url, `${base}/missing.yaml`);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
    // Signed URLs carry tokens in the query: messages leave it out.
    assert.equal(
      shownUrl("https://u:p@h.example:8443/a/b.csar?X-Amz-Signature=abc"),
      "https://h.example:8443/a/b.csar?…",
    );
  });

  it("reports 5xx and 429 as transient", async (t) => {
    let status = 500;
    const base = await serve(t, (_req, res) => res.writeHead(status).end("later"));
    await assert.rejects(
      translateApplication({ tosca: `${base}/x.yaml` }),
      fetchError(true, /HTTP 500/, 500),
    );
    status = 429;
    await assert.rejects(
      translateApplication({ tosca: `${base}/x.yaml` }),
      fetchError(true, /HTTP 429/, 429),
    );
  });

  it("reports an unreachable server as transient", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await assert.rejects(
      translateApplication({ tosca: `http://127.0.0.1:${port}/x.yaml` }),
      fetchError(true, /failed: ECONNREFUSED/),
    );
  });

  it("times out as transient", async (t) => {
    const base = await serve(t, () => {
      // Never answers.
    });
    await assert.rejects(
      translateApplication({ tosca: `${base}/slow.yaml` }, { timeoutMs: 100 }),
      fetchError(true, /timed out after 100 ms/),
    );
  });

  it("times out a body that stalls", async (t) => {
    const base = await serve(t, (_req, res) => {
      res.writeHead(200);
      res.write("tosca_definitions_version: ");
    });
    await assert.rejects(
      translateApplication({ tosca: `${base}/slow.yaml` }, { timeoutMs: 100 }),
      fetchError(true, /timed out/, undefined),
    );
  });

  it("rejects a declared Content-Length over the limit without reading the body", async (t) => {
    let closed!: Promise<void>;
    const base = await serve(t, (_req, res) => {
      closed = new Promise((resolve) => res.on("close", resolve));
      res.writeHead(200, { "Content-Length": 50 * 1024 * 1024 });
      res.write("x");
    });
    await assert.rejects(
      translateApplication({ csar: `${base}/big.csar` }, { maxBytes: 1024, timeoutMs: 60_000 }),
      fetchError(false, /larger than 1024 bytes/, 200),
    );
    await closed;
  });

  it("stops reading a body as soon as it passes the limit", async (t) => {
    let written = 0;
    let closed!: Promise<void>;
    const chunk = Buffer.alloc(16 * 1024, "a");
    const base = await serve(t, (_req, res) => {
      closed = new Promise((resolve) => res.on("close", resolve));
      res.writeHead(200);
      // An endless body: the test ends only because the client drops the connection.
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
      };
      res.on("drain", pump);
      pump();
    });
    await assert.rejects(
      translateApplication({ tosca: `${base}/endless.yaml` }, { maxBytes: 64 * 1024, timeoutMs: 60_000 }),
      fetchError(false, /larger than 65536 bytes/, 200),
    );
    await closed;
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes`);
  });

  it("bounds a template URL by the largest template parsed (1 MiB)", async (t) => {
    const base = await serve(t, files({ "/huge.yaml": "#".repeat(1024 * 1024 + 1) }));
    await assert.rejects(
      translateApplication({ tosca: `${base}/huge.yaml` }),
      fetchError(false, /larger than 1048576 bytes/, 200),
    );
  });

  it("follows up to 5 redirects", async (t) => {
    const base = await serve(t, (req, res) => {
      const m = /^\/r(\d+)\.yaml$/.exec(req.url ?? "");
      if (m && Number(m[1]) > 0)
        res.writeHead(Number(m[1]) % 2 ? 302 : 307, { Location: `/r${Number(m[1]) - 1}.yaml` }).end();
      else if (req.url === "/r0.yaml") res.writeHead(200).end(ECHO_DEMO);
      else if (req.url === "/ftp.yaml") res.writeHead(301, { Location: "ftp://127.0.0.1/x.yaml" }).end();
      else if (req.url === "/nowhere.yaml") res.writeHead(301).end();
      else res.writeHead(404).end();
    });
    assert.deepEqual(await translateApplication({ tosca: `${base}/r5.yaml` }), ECHO_DEMO_MANIFESTS);
    await assert.rejects(
      translateApplication({ tosca: `${base}/r6.yaml` }),
      fetchError(false, /more than 5 redirects/, 302),
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/ftp.yaml` }),
      fetchError(false, /only http and https/),
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/nowhere.yaml` }),
      fetchError(false, /without a Location/, 301),
    );
  });

  it("stops when the caller's signal aborts, with its reason", async (t) => {
    const controller = new AbortController();
    const reason = new Error("shutting down");
    const base = await serve(t, () => controller.abort(reason));
    await assert.rejects(
      translateApplication({ tosca: `${base}/x.yaml` }, { signal: controller.signal }),
      (err) => err === reason,
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/x.yaml` }, { signal: controller.signal }),
      (err) => err === reason,
    );
  });

  it("reports a downloaded template that is not YAML or not TOSCA", async (t) => {
    const base = await serve(
      t,
      files({ "/bad.yaml": "a: [", "/list.yaml": "- a\n", "/k8s.yaml": stringify(deployment) }),
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/bad.yaml` }),
      toscaError("spec.tosca", /^The TOSCA template at http:\/\/127.0.0.1:\d+\/bad.yaml is not valid YAML/),
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/list.yaml` }),
      toscaError("spec.tosca", /must be a YAML mapping/),
    );
    await assert.rejects(
      translateApplication({ tosca: `${base}/k8s.yaml` }),
      toscaError("spec.tosca.apiVersion", /Invalid TOSCA template content/),
    );
  });
});

describe("CSAR archives", () => {
  const csar = (files: ZipFileSpec[]) => buildZip(files);

  it("downloads a CSAR and takes the template named by TOSCA.meta", async (t) => {
    const archive = csar([
      { name: "TOSCA-Metadata/", method: 0 },
      { name: "TOSCA-Metadata/TOSCA.meta", data: ECHO_DEMO_META },
      { name: "echo-demo-tosca.yaml", data: ECHO_DEMO },
      { name: "other.yaml", data: "not: used" },
    ]);
    const base = await serve(t, files({ "/echo-demo.csar": archive }));
    assert.deepEqual(
      await translateApplication({ manifest: [], csar: `${base}/echo-demo.csar` }),
      ECHO_DEMO_MANIFESTS,
    );
  });

  it("takes an Entry-Definitions in a subfolder, quoted or with ./", () => {
    for (const entry of ["Definitions/app.yaml", "'Definitions/app.yaml'", "./Definitions/app.yaml"]) {
      const archive = csar([
        {
          name: "TOSCA-Metadata/TOSCA.meta",
          data: `TOSCA-Meta-File-Version: 1.0\r\nEntry-Definitions: ${entry}\r\n\r\nName: x\r\n`,
        },
        { name: "Definitions/app.yaml", data: ECHO_DEMO },
      ]);
      assert.deepEqual(translateCsar(archive, "http://h/a.csar"), ECHO_DEMO_MANIFESTS);
    }
  });

  it("takes the only root YAML file of a CSAR without TOSCA.meta", () => {
    const archive = csar([
      { name: "echo.yml", data: ECHO_DEMO },
      { name: "Definitions/types.yaml", data: "x: 1" },
      { name: "README.txt", data: "hi" },
    ]);
    assert.deepEqual(translateCsar(archive, "http://h/a.csar"), ECHO_DEMO_MANIFESTS);
    assert.throws(
      () =>
        translateCsar(
          csar([
            { name: "a.yaml", data: ECHO_DEMO },
            { name: "b.yaml", data: ECHO_DEMO },
          ]),
          "http://h/a.csar",
        ),
      toscaError(
        "spec.csar",
        /has no TOSCA-Metadata\/TOSCA.meta, so it must hold exactly one YAML file at its root .* found 'a.yaml', 'b.yaml'/,
      ),
    );
    assert.throws(
      () => translateCsar(csar([{ name: "sub/a.yaml", data: ECHO_DEMO }]), "http://h/a.csar"),
      toscaError("spec.csar", /found none/),
    );
  });

  it("reports a missing Entry-Definitions or entry file", () => {
    assert.throws(
      () =>
        translateCsar(
          csar([
            { name: "TOSCA-Metadata/TOSCA.meta", data: ECHO_DEMO_META },
            { name: "other.yaml", data: ECHO_DEMO },
          ]),
          "http://h/a.csar",
        ),
      toscaError(
        "spec.csar",
        /Entry-Definitions file 'echo-demo-tosca.yaml' named in TOSCA-Metadata\/TOSCA.meta is not in the CSAR archive at http:\/\/h\/a.csar/,
      ),
    );
    assert.throws(
      () =>
        translateCsar(
          csar([
            { name: "TOSCA-Metadata/TOSCA.meta", data: "CSAR-Version: 1.1\n" },
            { name: "a.yaml", data: ECHO_DEMO },
          ]),
          "http://h/a.csar",
        ),
      toscaError("spec.csar", /has no Entry-Definitions in TOSCA-Metadata\/TOSCA.meta/),
    );
  });

  it("names the entry file in the fields of template errors", () => {
    const archive = csar([
      { name: "app.yaml", data: stringify(template({ web: { token: ["a", ":", 1] } })) },
    ]);
    assert.throws(
      () => translateCsar(archive, "http://h/a.csar"),
      toscaError(
        "spec.csar[app.yaml].topology_template.node_templates.web.properties.spec.token",
        /function token/,
      ),
    );
    assert.throws(
      () => translateCsar(csar([{ name: "app.yaml", data: "a: [" }]), "http://h/a.csar"),
      toscaError(
        "spec.csar",
        /^The template 'app.yaml' in the CSAR archive at http:\/\/h\/a.csar is not valid YAML/,
      ),
    );
  });

  it("reports what is not a zip archive, or a broken one, as permanent", async (t) => {
    const archive = csar([{ name: "a.yaml", data: ECHO_DEMO }]);
    archive[40] ^= 0xff; // inside the deflated data of a.yaml (its local header is 30 + 6 bytes)
    const base = await serve(t, files({ "/text.zip": "this is not a zip", "/broken.csar": archive }));
    await assert.rejects(
      translateApplication({ csar: `${base}/text.zip` }),
      toscaError("spec.csar", /CSAR archive at .* cannot be read: not a zip archive/),
    );
    await assert.rejects(
      translateApplication({ csar: `${base}/broken.csar` }),
      toscaError("spec.csar", /cannot be read: the entry "a.yaml" (is corrupt|fails its CRC-32|inflates)/),
    );
  });

  it("refuses zip bombs before inflating them", () => {
    const bomb = csar([
      { name: "TOSCA-Metadata/TOSCA.meta", data: ECHO_DEMO_META },
      { name: "echo-demo-tosca.yaml", data: Buffer.alloc(2 * 1024 * 1024, " ") },
    ]);
    assert.ok(bomb.length < 10_000);
    assert.throws(
      () => translateCsar(bomb, "http://h/a.csar"),
      toscaError(
        "spec.csar",
        /'echo-demo-tosca.yaml' in the CSAR archive .* is too large: 2097152 bytes, at most 1048576/,
      ),
    );
    const many = csar(
      Array.from({ length: 20 }, (_, i) => ({ name: `blob${i}`, data: Buffer.alloc(1024 * 1024) })),
    );
    assert.throws(
      () => translateCsar(many, "http://h/a.csar", { maxUncompressedBytes: 10 * 1024 * 1024 }),
      toscaError("spec.csar", /entries would inflate to more than the 10485760 bytes allowed/),
    );
    const liar = csar([
      { name: "TOSCA-Metadata/TOSCA.meta", data: ECHO_DEMO_META },
      { name: "echo-demo-tosca.yaml", data: Buffer.alloc(64 * 1024 * 1024, " "), declaredSize: 1000 },
    ]);
    assert.throws(
      () => translateCsar(liar, "http://h/a.csar"),
      toscaError("spec.csar", /inflates to more than its declared 1000 bytes/),
    );
  });
});
