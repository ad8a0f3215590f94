/**
 * One object of every kind that holds secrets, each secret a unique string (so a leak names its source), and
 * for Application the status secrets the controllers would write.
 */
import { kubeconfig } from "./fixtures.js";

/** A unique secret string per field, so a leak names its source. */
export const secret = (what: string) => `s3cret-${what}-${Math.random().toString(36).slice(2, 10)}`;

export const secretBodies: Record<string, () => { body: any; status?: any }> = {
  GlobalInfrastructureProvider: () => ({
    body: {
      spec: {
        type: "im",
        im: { url: "http://im.example", username: "u", password: secret("im-pw"), token: null },
      },
    },
  }),
  InfrastructureProvider: () => ({
    body: {
      spec: {
        type: "im",
        im: { url: "http://im.example", username: "u", password: secret("im-pw"), token: secret("im-tk") },
      },
    },
  }),
  GlobalCloud: () => ({ body: cloud(false) }),
  Cloud: () => ({ body: cloud(true) }),
  GlobalMetricsProvider: () => ({ body: influx() }),
  MetricsProvider: () => ({ body: influx() }),
  Cluster: () => {
    const kc: any = kubeconfig();
    kc.users[0].user = {
      token: secret("kube-token"),
      "client-certificate-data": secret("cert-data"),
      "client-key-data": secret("key-data"),
      exec: { command: "get-token", args: [secret("exec-arg")] },
      "auth-provider": { name: "oidc", config: { "refresh-token": secret("refresh") } },
    };
    return { body: { spec: { kubeconfig: kc, constraints: { cloud: {} } } } };
  },
  Application: () => ({
    body: {
      spec: {
        manifest: [
          { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { plain: "visible" } },
          {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { name: "creds" },
            data: { password: secret("kube-secret") },
          },
        ],
        constraints: { cluster: {} },
      },
    },
    status: {
      complete_token: secret("complete-token"),
      complete_key: secret("complete-key"),
      complete_cert: "public-cert",
      shutdown_token: secret("shutdown-token"),
      shutdown_key: secret("shutdown-key"),
      last_applied_manifest: [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "creds" },
          stringData: { password: secret("applied") },
        },
      ],
    },
  }),
};

function cloud(namespaced: boolean) {
  return {
    spec: {
      type: "openstack",
      openstack: {
        url: "https://keystone.example:5000/v3",
        auth: {
          type: "password",
          password: { user: { username: "u", password: secret("os-pw") }, project: { name: "p" } },
        },
        infrastructure_provider: { name: "im", namespaced },
      },
    },
  };
}

function influx() {
  return {
    spec: {
      type: "influx",
      influx: { url: "http://influx.example", token: secret("influx"), org: "o", bucket: "b" },
    },
  };
}
