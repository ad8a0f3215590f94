/**
 * Wire details of the prometheus source that a real Prometheus cannot show: what exactly is sent (path
 * prefix, basic auth), odd answers (a proxy's HTML page, a stall after the headers), and cancellation. The
 * behaviour against a real Prometheus is in test/metrics/prometheus.test.ts.
 */
import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { MetricError, MetricsProviderError } from "./errors.js";
import { createMetricsSource } from "./provider.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const json =
  (body: unknown, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
const vector = (...values: string[]) =>
  json({
    status: "success",
    data: {
      resultType: "vector",
      result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1, v] })),
    },
  });

async function failure(promise: Promise<number>): Promise<Error> {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${value}`),
    (err: Error) => err,
  );
}

describe("prometheus source on the wire", () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  const requests: { url: string; headers: IncomingMessage["headers"] }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      requests.push({ url: req.url ?? "", headers: req.headers });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    base = `http://127.0.0.1:${address.port}`;
  });

  beforeEach(() => {
    requests.length = 0;
    handler = vector("1");
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const source = (url = base, timeoutMs?: number) =>
    createMetricsSource({ type: "prometheus", prometheus: { url } }, { timeoutMs });

  it("keeps a path prefix, tolerates a trailing slash and encodes the query", async () => {
    handler = vector("0.5");
    assert.equal(await source(`${base}/prometheus/`).query('sum(rate(x{a="b c"}[5m]))'), 0.5);
    const url = new URL(requests[0].url, base);
    assert.equal(url.pathname, "/prometheus/api/v1/query");
    assert.equal(url.searchParams.get("query"), 'sum(rate(x{a="b c"}[5m]))');
    assert.equal(requests[0].headers.accept, "application/json");
  });

  it("sends URL credentials as basic auth and never shows them in errors", async () => {
    handler = json({ status: "error", errorType: "bad_data", error: "nope" }, 400);
    const url = `http://ad%40min:pa%3Ass@${base.slice("http://".length)}`;
    const err = await failure(source(url).query("x"));
    assert.equal(
      requests[0].headers.authorization,
      `Basic ${Buffer.from("ad@min:pa:ss").toString("base64")}`,
    );
    assert.ok(err instanceof MetricsProviderError);
    assert.ok(!err.message.includes("pa%3Ass") && !err.message.includes("ad%40min"), err.message);
    assert.ok(err.message.includes(`${base}/`), err.message);
  });

  it("reports a non-JSON error page with its status and an excerpt", async () => {
    handler = (_req, res) => res.writeHead(502).end(`<html>Bad Gateway${" ".repeat(500)}padding</html>`);
    const err = await failure(source().query("x"));
    assert.ok(err instanceof MetricsProviderError);
    assert.match(err.message, /HTTP 502: <html>Bad Gateway/);
    assert.ok(!err.message.includes("padding"), "the excerpt is cut");
  });

  it("reports a 200 that is not JSON as pointing at the wrong server", async () => {
    handler = (_req, res) => res.writeHead(200).end("<html>Grafana</html>");
    const err = await failure(source().query("x"));
    assert.ok(err instanceof MetricsProviderError);
    assert.match(err.message, /not JSON; does the provider URL point at Prometheus/);
  });

  it("reads scalars and rejects strings and garbled samples", async () => {
    handler = json({ status: "success", data: { resultType: "scalar", result: [1, "-3.25"] } });
    assert.equal(await source().query("x"), -3.25);
    handler = json({ status: "success", data: { resultType: "string", result: [1, "hi"] } });
    assert.ok((await failure(source().query("x"))) instanceof MetricError);
    handler = vector("");
    assert.ok((await failure(source().query("x"))) instanceof MetricError, "an empty value is not 0");
    handler = json({ status: "success", data: { resultType: "vector", result: [{ metric: {} }] } });
    assert.ok((await failure(source().query("x"))) instanceof MetricsProviderError);
  });

  it("lists only the first few series of a large vector", async () => {
    handler = vector("1", "2", "3", "4", "5");
    const err = await failure(source().query("x"));
    assert.ok(err instanceof MetricError);
    assert.match(err.message, /yields 5 samples.*\{i="0"\}, \{i="1"\}, \{i="2"\}, … 2 more/);
  });

  it("times out a server that sends headers and then stalls the body", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"status":"succ');
    };
    const err = await failure(source(base, 200).query("x"));
    assert.ok(err instanceof MetricsProviderError, String(err));
    assert.match(err.message, /did not answer within 200 ms/);
  });

  it("rejects with the caller's reason when the caller aborts, not as a provider failure", async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    handler = () => arrived(); // and never answers
    const controller = new AbortController();
    const reason = new Error("pass cancelled");
    const pending = source(base, 10_000).query("x", controller.signal);
    await requestArrived;
    controller.abort(reason);
    assert.equal(await failure(pending), reason);
  });

  it("leaves no listener on a long-lived caller signal", async () => {
    const shutdown = new AbortController();
    for (let i = 0; i < 20; i++) assert.equal(await source().query("x", shutdown.signal), 1);
    handler = json({ status: "error", error: "boom" }, 503);
    await failure(source().query("x", shutdown.signal));
    assert.equal(getEventListeners(shutdown.signal, "abort").length, 0);
  });
});
