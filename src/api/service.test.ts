import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { tempEmbeddedStore } from "../../test/support/store.js";
import type { Store } from "../store/store.js";
import { GlobalMetric } from "../resources/registry.js";
import { ApiError } from "./errors.js";
import { ResourceService } from "./service.js";

let store: Store;
let closeStore: () => Promise<void>;
before(async () => {
  ({ store, close: closeStore } = await tempEmbeddedStore());
});
after(async () => {
  await closeStore();
});

const body = (name: string) => ({
  metadata: { name },
  spec: { allowed_values: [], min: 0, max: 1, provider: { name: "p", metric: "m" } },
});

describe("ResourceService read-modify-write", () => {
  it("retries a conflicting write retryTransactions times, then answers 409 Concurrent writes", async () => {
    const service = new ResourceService(store, { retryTransactions: 2 });
    const created = JSON.parse((await service.create(GlobalMetric, null, body("contended"))).json);
    // Another writer wins every race: each of our compare-and-swaps finds a newer revision.
    let attempts = 0;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return async (key: string, value: string, cond?: { expectModRevision?: number }) => {
            attempts++;
            const current = await target.get(key);
            await target.put(key, current!.value); // the competitor's write
            return target.put(key, value, cond);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const contended = new ResourceService(racing, { retryTransactions: 2 });
    created.metadata.labels = { a: "b" };
    created.metadata.resource_version = null;
    await assert.rejects(contended.update(GlobalMetric, null, "contended", created), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 409);
      assert.equal(err.title, "TRANSACTION_ERROR");
      assert.equal(err.detail, "Concurrent writes to database");
      return true;
    });
    assert.equal(attempts, 3, "one attempt and two retries");
  });

  it("wins after a transient conflict", async () => {
    let conflicts = 0;
    const racing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return async (key: string, value: string, cond?: { expectModRevision?: number }) => {
            if (conflicts-- > 0) await target.put(key, (await target.get(key))!.value);
            return target.put(key, value, cond);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const service = new ResourceService(racing, { retryTransactions: 1 });
    const obj = JSON.parse((await service.create(GlobalMetric, null, body("transient"))).json);
    obj.metadata.labels = { won: "yes" };
    obj.metadata.resource_version = null;
    conflicts = 1;
    const updated = JSON.parse((await service.update(GlobalMetric, null, "transient", obj)).json);
    assert.deepEqual(updated.metadata.labels, { won: "yes" });
  });
});
