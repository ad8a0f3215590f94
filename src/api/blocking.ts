/**
 * `?blocking=<state>` on create and delete (Application, Cluster): answer once the object reaches the state
 * (case-insensitive), or once it is gone for `deleted`, or with its latest version after the timeout.
 */
import type { KeyValue, Store } from "../store/store.js";
import { kvWireJson, wireJson } from "./codec.js";

export async function waitForState(
  store: Store,
  written: KeyValue,
  state: string,
  timeoutMs: number,
): Promise<string> {
  const wanted = state.toUpperCase();
  const stateOf = (value: string) => String(JSON.parse(value)?.status?.state ?? "").toUpperCase();
  if (wanted !== "DELETED" && stateOf(written.value) === wanted) return kvWireJson(written);

  let latest: string = kvWireJson(written);
  return new Promise<string>((resolve, reject) => {
    let done = false;
    let handle: { cancel(): void } | null = null;
    const finish = (answer: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      handle?.cancel();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(latest), timeoutMs);
    store
      .watch(written.key, {
        afterRevision: written.modRevision,
        onEvents: (events) => {
          for (const e of events) {
            if (e.kv.key !== written.key) continue;
            if (e.type === "delete") {
              const obj = JSON.parse(wireJson(e.kv.value, e.kv.modRevision));
              if (obj.status && typeof obj.status === "object") obj.status.state = "DELETED";
              finish(JSON.stringify(obj));
              return;
            }
            latest = kvWireJson(e.kv);
            if (wanted !== "DELETED" && stateOf(e.kv.value) === wanted) {
              finish(latest);
              return;
            }
          }
        },
        onError: () => finish(latest),
      })
      .then((h) => {
        handle = h;
        if (done) h.cancel();
      })
      .catch((err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err);
      });
  });
}
