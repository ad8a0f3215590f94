/** A throwaway embedded store in a temp dir, for unit tests that need a real Store. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedStore } from "../../src/store/embedded.js";
import type { Store } from "../../src/store/store.js";

export async function tempEmbeddedStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "krake-store-"));
  const store = await openEmbeddedStore({ dataDir: dir, fsync: false });
  return {
    store,
    async close() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
