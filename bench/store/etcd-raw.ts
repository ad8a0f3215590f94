/**
 * Raw etcd put throughput: plain etcd3 client puts, no store layer, no API. The API benchmark runs this
 * against the same etcd in the same run, so its create throughput can be read against what etcd itself
 * sustains on this machine.
 *
 * Standalone: `node dist/bench/store/etcd-raw.js [endpoint] [concurrency] [count]`; without an endpoint a
 * throw-away etcd is started (see test/support/etcd.ts).
 */
import { pathToFileURL } from "node:url";
import { Etcd3 } from "etcd3";

export interface RawPutOptions {
  /** Puts in flight at any time. */
  concurrency: number;
  /** Puts measured (after a short warm-up that is not). */
  count: number;
  /** Value size; the default is about the size of a small serialized resource. */
  valueBytes?: number;
  /** Where the keys go; removed again afterwards. Default: a fresh prefix under /bench/raw/. */
  keyPrefix?: string;
}

/** Puts per second of distinct new keys, at the given concurrency. */
export async function measureRawEtcdPuts(endpoint: string, opts: RawPutOptions): Promise<number> {
  const { concurrency, count } = opts;
  if (!(concurrency >= 1 && count >= 1)) throw new Error("concurrency and count must be at least 1");
  const prefix = opts.keyPrefix ?? `/bench/raw/${process.pid}-${Date.now()}/`;
  const value = "x".repeat(opts.valueBytes ?? 1024);
  const client = new Etcd3({ hosts: endpoint });
  try {
    // Connection setup and first-call costs are not what is being measured.
    for (let i = 0; i < Math.min(20, count); i++) await client.put(`${prefix}warmup/${i}`).value(value);

    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        await client.put(`${prefix}${String(i).padStart(8, "0")}`).value(value);
      }
    };
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    await client.delete().prefix(prefix);
    return count / seconds;
  } finally {
    client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const [endpointArg, concurrencyArg = "64", countArg = "5000"] = argv;
  let endpoint = endpointArg;
  let stop: (() => Promise<void>) | undefined;
  if (!endpoint) {
    const { startEtcd } = await import("../../test/support/etcd.js");
    const etcd = await startEtcd();
    endpoint = etcd.endpoint;
    stop = () => etcd.stop();
  }
  try {
    for (const concurrency of concurrencyArg.split(",").map(Number)) {
      const rate = await measureRawEtcdPuts(endpoint, { concurrency, count: Number(countArg) });
      console.log(`raw etcd puts: concurrency ${concurrency}, ${countArg} puts: ${rate.toFixed(0)} puts/s`);
    }
  } finally {
    await stop?.();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
