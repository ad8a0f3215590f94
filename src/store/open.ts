import type { Logger } from "pino";
import type { StoreConfig } from "../api/config.js";
import type { Store } from "./store.js";

/** Opens the configured store; each implementation is loaded only when chosen. */
export async function openStore(config: StoreConfig, logger: Logger): Promise<Store> {
  if (config.type === "etcd") {
    const { openEtcdStore } = await import("./etcd.js");
    return openEtcdStore({ endpoints: config.endpoints, prefix: config.prefix });
  }
  const { openEmbeddedStore } = await import("./embedded.js");
  return openEmbeddedStore({ dataDir: config.dataDir, fsync: config.fsync, historyLimit: config.historyLimit, logger });
}
