import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeClient } from "./client.js";
import type { HttpRequest, HttpResponse } from "../util/http.js";
import { VERSION } from "../version.js";

describe("KubeClient", () => {
  it("identifies itself as krake/<version>, so cluster operators can tell its requests apart", async () => {
    const seen: HttpRequest[] = [];
    const http = async (_url: URL, req: HttpRequest): Promise<HttpResponse> => {
      seen.push(req);
      const body = JSON.stringify({ major: "1", minor: "30", gitVersion: "v1.30.0" });
      return {
        status: 200,
        statusText: "OK",
        ok: true,
        header: () => undefined,
        text: async () => body,
        chunks: async function* () {},
      };
    };
    const client = KubeClient.fromKubeconfig(
      {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      },
      { http },
    );
    await client.version();
    assert.equal(seen[0].headers["User-Agent"], `krake/${VERSION}`);
  });
});
