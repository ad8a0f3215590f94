import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fromFetch, nodeHttp, type HttpSend } from "./http.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

describe("nodeHttp", () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  const sockets = new Set<Socket>();
  const send: HttpSend = nodeHttp();

  before(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => handler(req, res, body));
    });
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it("sends method, headers and body with a Content-Length, and reads status, headers and text", async () => {
    handler = (req, res, body) => {
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.writeHead(201, "Made", { "X-Echo": `${req.method} ${req.headers["content-length"]} ${body}` });
      res.end("done");
    };
    const res = await send(new URL(`${base}/x`), { method: "POST", headers: { A: "b" }, body: "héllo" });
    assert.equal(res.status, 201);
    assert.equal(res.statusText, "Made");
    assert.equal(res.ok, true);
    assert.equal(res.header("x-echo"), "POST 6 héllo");
    assert.equal(res.header("SET-COOKIE"), "a=1, b=2");
    assert.equal(await res.text(), "done");
    await assert.rejects(res.text(), /already been read/);
  });

  it("keeps connections alive between requests", async () => {
    const ports = new Set<number>();
    handler = (req, res) => {
      ports.add(req.socket.remotePort!);
      res.end("ok");
    };
    for (let i = 0; i < 5; i++) await (await send(new URL(base), { method: "GET", headers: {} })).text();
    assert.equal(ports.size, 1);
  });

  it("retries an idempotent request once when a reused socket is reset, never a POST", async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls++;
      res.end("warm");
    };
    await (await send(new URL(base), { method: "GET", headers: {} })).text();
    handler = (req, res) => {
      calls++;
      if (calls === 2) return req.socket.destroy();
      res.end("second try");
    };
    const res = await send(new URL(base), { method: "GET", headers: {} });
    assert.equal(await res.text(), "second try");
    assert.equal(calls, 3);
    handler = (req) => {
      calls++;
      req.socket.destroy();
    };
    await assert.rejects(send(new URL(base), { method: "POST", headers: {}, body: "x" }), (err: any) => {
      assert.equal(err.name, "TypeError");
      assert.equal(err.message, "fetch failed");
      assert.equal(err.cause.code, "ECONNRESET");
      return true;
    });
    assert.equal(calls, 4, "the POST was sent once");
  });

  it("streams chunks as they come, and an abort ends the stream with the signal's reason", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/x-ndjson" });
      res.write("one\n");
    };
    const stop = new AbortController();
    const res = await send(new URL(base), { method: "GET", headers: {}, signal: stop.signal });
    const it = res.chunks()[Symbol.asyncIterator]();
    assert.equal(Buffer.from((await it.next()).value).toString(), "one\n");
    stop.abort(new Error("enough"));
    await assert.rejects(it.next(), /enough/);
  });

  it("fails like fetch when nothing listens", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(
      send(new URL(`http://127.0.0.1:${port}`), { method: "GET", headers: {} }),
      (err: any) => {
        assert.equal(err.message, "fetch failed");
        assert.equal(err.cause.code, "ECONNREFUSED");
        return true;
      },
    );
  });

  it("fromFetch gives the same interface over a fetch implementation", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "X-A": "1" });
      res.write("a\n");
      res.end("b\n");
    };
    const res = await fromFetch(fetch)(new URL(base), { method: "GET", headers: {} });
    assert.equal(res.header("x-a"), "1");
    let text = "";
    for await (const chunk of res.chunks()) text += Buffer.from(chunk).toString();
    assert.equal(text, "a\nb\n");
  });
});
