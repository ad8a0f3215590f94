import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkKubeconfig } from "./kubeconfig.js";

function kubeconfig(): Record<string, any> {
  return {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "admin@k8s",
    contexts: [{ name: "admin@k8s", context: { cluster: "k8s", user: "admin", namespace: "default" } }],
    users: [{ name: "admin", user: { "client-certificate-data": "Y2VydA==", "client-key-data": "a2V5" } }],
    clusters: [
      { name: "k8s", cluster: { server: "https://10.0.0.1:6443", "certificate-authority-data": "Y2E=" } },
    ],
    preferences: {},
  };
}

function only(kc: Record<string, unknown>) {
  const issues = checkKubeconfig(kc);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  return issues[0];
}

describe("checkKubeconfig", () => {
  it("accepts a regular one-cluster kubeconfig", () => assert.deepEqual(checkKubeconfig(kubeconfig()), []));

  it("accepts an empty kubeconfig (the Cluster rule decides whether one is needed)", () => {
    assert.deepEqual(checkKubeconfig({}), []);
  });

  it("accepts http servers and token users", () => {
    const kc = kubeconfig();
    kc.clusters[0].cluster.server = "http://localhost:8080";
    kc.users[0].user = { token: "t" };
    assert.deepEqual(checkKubeconfig(kc), []);
  });

  it("allows exactly one context (Krake's message)", () => {
    const kc = kubeconfig();
    kc.contexts.push({ name: "other", context: { cluster: "k8s", user: "admin" } });
    assert.deepEqual(only(kc), { path: ["contexts"], message: "Only one context is allowed" });
  });

  it("allows exactly one user (Krake's message)", () => {
    const kc = kubeconfig();
    kc.users.push({ name: "other", user: {} });
    assert.deepEqual(only(kc), { path: ["users"], message: "Only one user is allowed" });
  });

  it("allows exactly one cluster (Krake's message)", () => {
    const kc = kubeconfig();
    kc.clusters.push({ name: "other", cluster: { server: "https://x" } });
    assert.deepEqual(only(kc), { path: ["clusters"], message: "Only one cluster is allowed" });
  });

  it("rejects empty lists", () => {
    const kc = kubeconfig();
    kc.clusters = [];
    const issues = checkKubeconfig(kc);
    assert.deepEqual(issues[0], {
      path: ["clusters"],
      message: "Exactly one cluster is required, the list is empty",
    });
  });

  it("requires the sections, with the loader's wording", () => {
    for (const section of ["contexts", "users", "clusters"]) {
      const kc = kubeconfig();
      delete kc[section];
      const issues = checkKubeconfig(kc);
      assert.deepEqual(issues[0], {
        path: [section],
        message: `Invalid kube-config file. Expected key ${section} in kube-config`,
      });
    }
  });

  it("requires lists of named objects", () => {
    const kc = kubeconfig();
    kc.users = { admin: {} };
    assert.deepEqual(only(kc), {
      path: ["users"],
      message: "Invalid kube-config file. Expected kube-config/users to be a list",
    });
    const kc2 = kubeconfig();
    kc2.contexts[0] = { context: { cluster: "k8s", user: "admin" } };
    assert.deepEqual(checkKubeconfig(kc2)[0], {
      path: ["contexts", 0],
      message:
        "Invalid kube-config file. Expected all values in kube-config/contexts list to have 'name' key",
    });
    const kc3 = kubeconfig();
    kc3.clusters[0] = "k8s";
    assert.equal(checkKubeconfig(kc3)[0].path.join("."), "clusters.0");
  });

  it("requires current-context, naming the context", () => {
    const kc = kubeconfig();
    delete kc["current-context"];
    assert.deepEqual(only(kc), {
      path: ["current-context"],
      message: "Invalid kube-config file. Expected key current-context in kube-config",
    });
    kc["current-context"] = "nope";
    assert.deepEqual(only(kc), {
      path: ["current-context"],
      message: "Invalid kube-config file. Expected object with name nope in kube-config/contexts list",
    });
    kc["current-context"] = 5;
    assert.equal(only(kc).path[0], "current-context");
  });

  it("requires the context body and its references", () => {
    const kc = kubeconfig();
    delete kc.contexts[0].context;
    assert.deepEqual(only(kc), {
      path: ["contexts", 0, "context"],
      message: "Invalid kube-config file. Expected key context in kube-config/contexts[name=admin@k8s]",
    });
    const kc2 = kubeconfig();
    kc2.contexts[0].context.cluster = "elsewhere";
    assert.deepEqual(only(kc2), {
      path: ["contexts", 0, "context", "cluster"],
      message: "Invalid kube-config file. Expected object with name elsewhere in kube-config/clusters list",
    });
    const kc3 = kubeconfig();
    kc3.contexts[0].context.user = "root";
    assert.deepEqual(only(kc3), {
      path: ["contexts", 0, "context", "user"],
      message: "Invalid kube-config file. Expected object with name root in kube-config/users list",
    });
    const kc4 = kubeconfig();
    delete kc4.contexts[0].context.cluster;
    assert.deepEqual(only(kc4), {
      path: ["contexts", 0, "context", "cluster"],
      message:
        "Invalid kube-config file. Expected key cluster in kube-config/contexts[name=admin@k8s]/context",
    });
  });

  it("requires the user and cluster bodies", () => {
    const kc = kubeconfig();
    delete kc.users[0].user;
    assert.deepEqual(only(kc), {
      path: ["users", 0, "user"],
      message: "Invalid kube-config file. Expected key user in kube-config/users[name=admin]",
    });
    const kc2 = kubeconfig();
    kc2.clusters[0].cluster = [];
    assert.deepEqual(only(kc2).path, ["clusters", 0, "cluster"]);
  });

  it("requires a server URL", () => {
    const kc = kubeconfig();
    delete kc.clusters[0].cluster.server;
    assert.deepEqual(only(kc), {
      path: ["clusters", 0, "cluster", "server"],
      message: "Invalid kube-config file. Expected key server in kube-config/clusters[name=k8s]/cluster",
    });
    for (const server of ["10.0.0.1:6443", "ftp://x", "not a url", 6443, "file:///etc/passwd"]) {
      kc.clusters[0].cluster.server = server;
      const issue = only(kc);
      assert.deepEqual(issue.path, ["clusters", 0, "cluster", "server"]);
      assert.match(issue.message, /is not an http or https URL/);
    }
  });

  it("quotes hostile names instead of pasting them", () => {
    const kc = kubeconfig();
    kc["current-context"] = "x\n".repeat(1000);
    const issue = only(kc);
    assert.ok(issue.message.length < 250);
    assert.ok(!issue.message.includes("\n"));
  });

  it("ignores inherited properties and never throws", () => {
    assert.deepEqual(checkKubeconfig(null as any), [{ path: [], message: "Not a valid mapping type." }]);
    assert.deepEqual(checkKubeconfig([] as any), [{ path: [], message: "Not a valid mapping type." }]);
    const issues = checkKubeconfig(JSON.parse('{"__proto__": {"contexts": []}}'));
    assert.ok(issues.some((i) => i.path[0] === "contexts"));
  });
});
