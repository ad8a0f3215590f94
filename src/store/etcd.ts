/**
 * The production store: etcd v3 (3.4+) through the `etcd3` client.
 *
 * KV calls go straight to the raw gRPC clients (`client.kv`, `client.watchClient`) rather than etcd3's
 * builders, because the store needs the response headers (revisions) and exact compare semantics.
 *
 * Watches use raw watch streams, one per Store.watch, instead of etcd3's `Watcher`, which was found unfit:
 *  - its resume revision jumps to the *current* store revision as soon as etcd acknowledges a historical
 *    watch (and on every response header while catching up), so a reconnect in the middle of a catch-up
 *    silently skips events;
 *  - a compacted start revision surfaces only as `EtcdError("Watcher canceled: ")` after `create()` has
 *    already resolved, without etcd's `compact_revision`.
 * Here each watch remembers the highest revision up to which everything has been delivered ("safe
 * revision"), resumes from the revision after it, and maps etcd's compaction cancel to CompactedError.
 *
 * etcd3's default fault handling (3 blind retries, then a 5s circuit breaker per host) is switched off:
 * retrying a compare-and-swap or an unconditional put whose first attempt may already have been applied
 * is not safe, and a breaker would keep a freshly restarted etcd unusable for seconds. Instead, reads are
 * retried here on connection errors, writes only when gRPC never sent them; both for a few seconds, then
 * they fail with StoreUnavailableError.
 */
import { readFileSync } from "node:fs";
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCOutOfRangeError,
  GRPCUnauthenticatedError,
  isRecoverableError,
  type IDuplexStream,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IRangeResponse,
  type IWatchRequest,
  type IWatchResponse,
} from "etcd3";
import {
  CompactedError,
  StoreUnavailableError,
  ValueTooLargeError,
  type DeleteResult,
  type KeyValue,
  type PutResult,
  type RangeResult,
  type Store,
  type StoreEvent,
  type WatchHandle,
  type WatchOptions,
  type WriteCondition,
} from "./store.js";

export interface EtcdStoreOptions {
  /** Client URLs, e.g. `http://127.0.0.1:2379` (or `https://…` with `tls`). */
  endpoints: string[];
  /** Key namespace: every key is stored as prefix + key. Default "". */
  prefix?: string;
  /** Deadline for the reachability probe at open time. Default 5000. */
  dialTimeoutMs?: number;
  auth?: { username: string; password: string };
  /** Each entry is a PEM string or the path of a PEM file. */
  tls?: { ca?: string; cert?: string; key?: string };
}

const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
/** Deadline of every unary call; a wedged etcd must not hang API requests forever. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Calls are retried on connection errors for this long, so a restarting etcd costs latency, not errors. */
const RETRY_BUDGET_MS = 5_000;
/** A broken watch keeps reconnecting for this long before giving up with onError. */
const WATCH_RECONNECT_BUDGET_MS = 60_000;
const WATCH_BACKOFF_MIN_MS = 25;
const WATCH_BACKOFF_MAX_MS = 2_000;
/**
 * Big ranges are read in pages, so that no single response has to hold everything. Values go up to etcd's
 * request limit (1.5 MiB), so a page can still be large: gRPC's 4 MiB receive limit is lifted (etcd
 * itself sends up to 2 GiB).
 */
const RANGE_PAGE_SIZE = 500;

type FaultPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

const neverAborted = new AbortController().signal;

/** A cockatiel-compatible policy that just runs the call: etcd3 only ever calls `execute`. */
const passThrough = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) =>
    fn({ signal: neverAborted }),
} as unknown as FaultPolicy;

function pem(value: string | undefined, what: string): Buffer | undefined {
  if (value === undefined) return undefined;
  if (value.includes("-----BEGIN")) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (err) {
    throw new StoreUnavailableError(`cannot read the etcd ${what} ${value}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
  }
}

/** etcd3's `credentials` for TLS files (PEM strings or paths); undefined without TLS. */
export function etcdTlsCredentials(tls: EtcdStoreOptions["tls"]): IOptions["credentials"] {
  if (tls === undefined) return undefined;
  const ca = pem(tls.ca, "CA file (etcd-ca)");
  const cert = pem(tls.cert, "client certificate (etcd-cert)");
  const key = pem(tls.key, "client key (etcd-key)");
  // grpc accepts a missing CA (then the system roots are used); etcd3's typing does not say so.
  return { rootCertificate: ca as Buffer, certChain: cert, privateKey: key };
}

/** A failed TLS handshake reads as "unreachable" from gRPC; say which settings to check. */
function tlsHint(err: unknown): string {
  return /handshake|certificate|SSL|TLS|ssl3|alert/i.test(errorText(err))
    ? " (the TLS handshake failed: check --etcd-ca, --etcd-cert and --etcd-key)"
    : "";
}

/** The smallest key greater than every key starting with `prefix` (etcd's own rule; "\0" = no end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

const num = (s: string | number | undefined | null): number => Number(s ?? 0);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Compaction as etcd reports it for reads at an old revision (`mvcc: required revision has been compacted`). */
function isCompactedReadError(err: unknown): boolean {
  return err instanceof GRPCOutOfRangeError && err.message.includes("has been compacted");
}

function isFutureRevisionError(err: unknown): boolean {
  return err instanceof GRPCOutOfRangeError && err.message.includes("future revision");
}

/**
 * grpc-js reports a call it could not even send (no connection: etcd restarting, or our channel still in
 * reconnect backoff) as UNAVAILABLE "No connection established". Such a call can be retried whatever it
 * does, writes included: etcd never saw it.
 */
function isNotSentError(err: unknown): boolean {
  return err instanceof Error && err.message.includes("No connection established");
}

/** For idempotent reads, any connection-level failure is worth another try. */
function isConnectionError(err: unknown): boolean {
  return err instanceof Error && (isNotSentError(err) || isRecoverableError(err));
}

/** Credentials missing or wrong: retrying or waiting will not help, and the message should say so. */
function isAccessError(err: unknown): boolean {
  return (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCUnauthenticatedError ||
    (err instanceof Error && /user name is empty|invalid auth token|permission denied/.test(err.message))
  );
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function openEtcdStore(opts: EtcdStoreOptions): Promise<Store> {
  if (opts.endpoints.length === 0) throw new Error("openEtcdStore: no etcd endpoints given");
  const store = new EtcdStore(opts);
  await store.probe(opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS);
  return store;
}

class EtcdStore implements Store {
  readonly kind = "etcd" as const;
  /** etcd's default --max-request-bytes (1.5 MiB), less room for the key and the request envelope. */
  readonly maxValueBytes = 1.5 * 1024 * 1024 - 8 * 1024;
  private readonly client: Etcd3;
  private readonly prefix: Buffer;
  private readonly where: string;
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly watches = new Set<EtcdWatch>();
  /** The highest compact revision seen so far; etcd's real one is never lower. */
  private knownCompactRevision = 0;

  constructor(opts: EtcdStoreOptions) {
    this.prefix = Buffer.from(opts.prefix ?? "", "utf8");
    this.where = `etcd at ${opts.endpoints.join(", ")}`;
    this.client = new Etcd3({
      hosts: opts.endpoints,
      auth: opts.auth,
      credentials: etcdTlsCredentials(opts.tls),
      faultHandling: { host: () => passThrough, global: passThrough },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + REQUEST_TIMEOUT_MS }),
      grpcOptions: {
        "grpc.max_receive_message_length": -1,
        // A dead peer behind a silent network would otherwise leave watch streams hanging forever. etcd
        // rejects pings more frequent than every 5s (--grpc-keepalive-min-time).
        "grpc.keepalive_time_ms": 30_000,
        "grpc.keepalive_timeout_ms": 10_000,
        // gRPC's default reconnect backoff (1s, growing to 120s) outlasts a typical etcd restart by far.
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 2_000,
      },
    });
  }

  /** A linearizable read under a deadline: proves reachability, quorum and (with auth) credentials. */
  async probe(timeoutMs: number): Promise<void> {
    try {
      await this.client.kv.range(
        { key: this.probeKey(), count_only: true },
        { deadline: Date.now() + timeoutMs },
      );
    } catch (err) {
      this.client.close();
      const problem = isAccessError(err)
        ? `${this.where} refused access (check the etcd username/password)`
        : `cannot reach ${this.where} within ${timeoutMs}ms${tlsHint(err)}`;
      throw new StoreUnavailableError(`${problem}: ${errorText(err)}`, { cause: err });
    }
  }

  /** A key inside our namespace that the store never uses ("" itself is not a valid etcd key). */
  private probeKey(): Buffer {
    return Buffer.concat([this.prefix, Buffer.from([0])]);
  }

  private full(key: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(key, "utf8")]);
  }

  private strip(key: Buffer): string {
    return key.subarray(this.prefix.length).toString("utf8");
  }

  private toKv(kv: IKeyValue): KeyValue {
    return {
      key: this.strip(kv.key),
      value: kv.value.toString("utf8"),
      createRevision: num(kv.create_revision),
      modRevision: num(kv.mod_revision),
    };
  }

  unavailable(err: unknown, what: string): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    return new StoreUnavailableError(`${this.where}: ${what} failed: ${errorText(err)}`, { cause: err });
  }

  private closedError(): StoreUnavailableError {
    return new StoreUnavailableError(`${this.where}: the store has been closed`);
  }

  /** Runs a call, mapping failures to StoreUnavailableError; close() waits for calls still running. */
  private async run<T>(what: string, idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw this.closedError();
    const task = (async () => {
      const giveUpAt = Date.now() + RETRY_BUDGET_MS;
      for (let attempt = 0; ; attempt++) {
        try {
          return await fn();
        } catch (err) {
          if (err instanceof CompactedError || err instanceof StoreUnavailableError) throw err;
          const retriable = idempotent ? isConnectionError(err) : isNotSentError(err);
          if (!retriable || this.closed || Date.now() >= giveUpAt) throw this.unavailable(err, what);
          await delay(Math.min(25 * 2 ** attempt, 500));
        }
      }
    })();
    this.inflight.add(task);
    try {
      return await task;
    } finally {
      this.inflight.delete(task);
    }
  }

  async get(key: string): Promise<KeyValue | null> {
    const res = await this.run(`get ${key}`, true, () => this.client.kv.range({ key: this.full(key) }));
    return res.kvs.length > 0 ? this.toKv(res.kvs[0]) : null;
  }

  async range(prefix: string): Promise<RangeResult> {
    return this.run(`range ${prefix}`, true, async () => {
      const start = this.full(prefix);
      const end = prefixEnd(start);
      // Pages are read at the revision of the first one, so together they are one consistent snapshot.
      for (;;) {
        const kvs: KeyValue[] = [];
        let revision = 0;
        // etcd refuses an empty key; from "\0" up to the end "\0" is every key, which an empty prefix means.
        let from = start.length > 0 ? start : Buffer.from([0]);
        try {
          for (;;) {
            const req: IRangeRequest = {
              key: from,
              range_end: end,
              limit: RANGE_PAGE_SIZE,
              sort_order: "Ascend",
              sort_target: "Key",
            };
            if (revision > 0) req.revision = revision;
            const res: IRangeResponse = await this.client.kv.range(req);
            if (revision === 0) revision = num(res.header.revision);
            for (const kv of res.kvs) kvs.push(this.toKv(kv));
            if (!res.more || res.kvs.length === 0) break;
            from = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
          }
          return { kvs, revision };
        } catch (err) {
          // Compacted past our snapshot revision between two pages: start over at a fresh revision.
          if (!isCompactedReadError(err)) throw err;
        }
      }
    });
  }

  async put(key: string, value: string, cond?: WriteCondition): Promise<PutResult> {
    const k = this.full(key);
    const v = Buffer.from(value, "utf8");
    if (v.length > this.maxValueBytes) throw new ValueTooLargeError(v.length, this.maxValueBytes);
    const expect = cond?.expectModRevision;
    if (expect === undefined) {
      const res = await this.run(`put ${key}`, false, () =>
        this.client.kv.put({ key: k, value: v, prev_kv: true }),
      );
      const revision = num(res.header.revision);
      const prev = res.prev_kv ? this.toKv(res.prev_kv) : null;
      return {
        ok: true,
        kv: { key, value, createRevision: prev?.createRevision ?? revision, modRevision: revision },
        prev,
      };
    }
    const res = await this.run(`put ${key}`, false, () =>
      this.client.kv.txn({
        // An absent key has create_revision 0, and mod_revision 0 too, so one compare covers both cases.
        compare: [{ key: k, target: "Mod", result: "Equal", mod_revision: expect }],
        // A create has no previous value to ask for.
        success: [{ request_put: { key: k, value: v, prev_kv: expect !== 0 } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!res.succeeded) {
      const kvs = res.responses[0]?.response_range?.kvs ?? [];
      return { ok: false, current: kvs.length > 0 ? this.toKv(kvs[0]) : null };
    }
    const revision = num(res.header.revision);
    const prevKv = res.responses[0]?.response_put?.prev_kv;
    const prev = prevKv ? this.toKv(prevKv) : null;
    return {
      ok: true,
      kv: { key, value, createRevision: prev?.createRevision ?? revision, modRevision: revision },
      prev,
    };
  }

  async delete(key: string, cond?: WriteCondition): Promise<DeleteResult> {
    const k = this.full(key);
    const expect = cond?.expectModRevision;
    if (expect === 0) {
      // "Must not exist" can never delete anything: report what is there.
      return { ok: false, current: await this.get(key) };
    }
    if (expect === undefined) {
      const res = await this.run(`delete ${key}`, false, () =>
        this.client.kv.deleteRange({ key: k, prev_kv: true }),
      );
      if (res.prev_kvs.length === 0) return { ok: false, current: null };
      return { ok: true, revision: num(res.header.revision), prev: this.toKv(res.prev_kvs[0]) };
    }
    const res = await this.run(`delete ${key}`, false, () =>
      this.client.kv.txn({
        compare: [{ key: k, target: "Mod", result: "Equal", mod_revision: expect }],
        success: [{ request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      }),
    );
    if (!res.succeeded) {
      const kvs = res.responses[0]?.response_range?.kvs ?? [];
      return { ok: false, current: kvs.length > 0 ? this.toKv(kvs[0]) : null };
    }
    const prevKvs = res.responses[0]?.response_delete_range?.prev_kvs ?? [];
    return { ok: true, revision: num(res.header.revision), prev: this.toKv(prevKvs[0]) };
  }

  async revision(): Promise<number> {
    return this.run("revision", true, () => this.currentRevision());
  }

  /**
   * etcd has no call that reports its compaction point cheaply (HashKV does, but hashes the whole
   * keyspace). A read at a revision below it fails, though, so the point is found by probing reads:
   * one read when nothing was compacted since we last looked (the common case), a binary search over
   * the revisions since then otherwise. Compactions only move forward, so the last answer (and any
   * compact revision etcd names in a watch cancellation) bounds the search from below.
   */
  async compactRevision(): Promise<number> {
    return this.run("compactRevision", true, async () => {
      const known = this.knownCompactRevision;
      // etcd's history starts at revision 1 (an empty keyspace), so a compaction at 1 removes nothing.
      let lo = Math.max(known, 1);
      if (await this.readableAt(lo)) return known;
      const current = await this.currentRevision();
      let hi = current; // always readable: etcd never compacts past its current revision
      while (hi - lo > 1) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (await this.readableAt(mid)) hi = mid;
        else lo = mid;
      }
      this.noteCompactRevision(hi);
      return this.knownCompactRevision;
    });
  }

  private async currentRevision(): Promise<number> {
    const res = await this.client.kv.range({ key: this.probeKey(), count_only: true });
    return num(res.header.revision);
  }

  /** Whether etcd can still serve a read at `rev`, i.e. rev >= the compact revision. */
  private async readableAt(rev: number): Promise<boolean> {
    try {
      await this.client.kv.range({ key: this.probeKey(), count_only: true, revision: rev });
      return true;
    } catch (err) {
      if (isCompactedReadError(err)) return false;
      if (isFutureRevisionError(err)) return true;
      throw err;
    }
  }

  noteCompactRevision(rev: number): void {
    if (rev > this.knownCompactRevision) this.knownCompactRevision = rev;
  }

  async watch(prefix: string, opts: WatchOptions): Promise<WatchHandle> {
    const start = this.full(prefix);
    const end = prefixEnd(start);
    const after = opts.afterRevision;
    let safeRevision: number;
    if (after === undefined) {
      // Start right after the current revision instead of letting etcd pick "now": the revision is then
      // known exactly, which is what a later resume needs.
      safeRevision = await this.revision();
    } else {
      // etcd would accept a watch at a compacted start revision and cancel it only ~100ms later (its
      // watcher sync loop), after announcing it as created. A read at `after` fails exactly when
      // after < compact revision, which is when the watch must be refused. A compaction racing in after
      // this check still surfaces, as onError(CompactedError).
      const readable = await this.run("watch", true, () => this.readableAt(Math.max(after, 1)));
      if (!readable) throw new CompactedError(after, await this.compactRevision());
      safeRevision = after;
    }
    if (this.closed) throw this.closedError();
    const w = new EtcdWatch(this, this.client, start, end, safeRevision, opts);
    this.watches.add(w);
    try {
      await w.establish();
    } catch (err) {
      this.watches.delete(w);
      throw err;
    }
    return { cancel: () => w.cancel() };
  }

  forget(w: EtcdWatch): void {
    this.watches.delete(w);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inflight]);
    for (const w of [...this.watches]) w.fail(this.closedError());
    this.client.close();
  }

  isClosed(): boolean {
    return this.closed;
  }

  describe(): string {
    return this.where;
  }

  convertEvent(ev: IWatchResponse["events"][number]): StoreEvent {
    const kv = this.toKv(ev.kv);
    if (ev.type === "Put") {
      // etcd omits prev_kv for a create, and also if it was compacted away before it could be read; the
      // latter is indistinguishable, and "no previous value" is then the honest answer.
      return { type: "put", kv, prev: ev.prev_kv ? this.toKv(ev.prev_kv) : null };
    }
    const prev: KeyValue = ev.prev_kv
      ? this.toKv(ev.prev_kv)
      : { key: kv.key, value: "", createRevision: 0, modRevision: 0 };
    return {
      type: "delete",
      kv: {
        key: kv.key,
        value: prev.value,
        createRevision: prev.createRevision,
        modRevision: kv.modRevision,
      },
      prev,
    };
  }
}

/**
 * Ends a watch stream without making etcd3 treat it as a host failure: etcd3 resets all connections of
 * the host on an error from a stream that is still writable, and cancel() alone produces a CANCELLED
 * error. Half-closing first makes the stream non-writable.
 */
function endStream(stream: IDuplexStream<IWatchRequest, IWatchResponse>): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already torn down
  }
}

class EtcdWatch {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | null = null;
  private finished = false;
  private established = false;
  private clusterId: string | null = null;
  /** Everything with revision <= safeRevision has been delivered (or there was nothing to deliver). */
  private safeRevision: number;
  private lastDelivered: number;
  private failingSince: number | null = null;
  private backoffMs = WATCH_BACKOFF_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private settleEstablish: ((err?: Error) => void) | null = null;

  constructor(
    private readonly store: EtcdStore,
    private readonly client: Etcd3,
    private readonly key: Buffer,
    private readonly rangeEnd: Buffer,
    startAfter: number,
    private readonly opts: WatchOptions,
  ) {
    this.safeRevision = startAfter;
    this.lastDelivered = startAfter;
  }

  /** Resolves once etcd has acknowledged the watch; a failure before that rejects instead of onError. */
  establish(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          this.settleEstablish?.(new Error(`no answer to the watch request within ${REQUEST_TIMEOUT_MS}ms`)),
        REQUEST_TIMEOUT_MS,
      );
      this.settleEstablish = (err) => {
        this.settleEstablish = null;
        clearTimeout(timer);
        if (err === undefined) return resolve();
        this.finished = true;
        this.teardown();
        reject(err instanceof CompactedError ? err : this.store.unavailable(err, "watch"));
      };
    });
    void this.connect();
    return done;
  }

  private async connect(): Promise<void> {
    this.retryTimer = null;
    if (this.finished) return;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.client.watchClient.watch();
    } catch (err) {
      return this.broken(err);
    }
    if (this.finished) return endStream(stream);
    this.stream = stream;
    stream.on("data", (res: IWatchResponse) => {
      if (this.stream === stream) this.onResponse(res);
    });
    stream.on("error", (err: Error) => {
      if (this.stream === stream) this.broken(err);
    });
    stream.on("end", () => {
      if (this.stream === stream) this.broken(new Error("watch stream ended by etcd"));
    });
    stream.write({
      create_request: {
        key: this.key,
        range_end: this.rangeEnd,
        start_revision: this.safeRevision + 1,
        prev_kv: true,
        // Progress notifications move the safe revision forward on quiet prefixes, so a resume after a
        // long idle period does not start below a compaction that affected none of our keys.
        progress_notify: true,
      },
    });
  }

  private onResponse(res: IWatchResponse): void {
    if (this.finished) return;
    const clusterId = res.header?.cluster_id;
    if (clusterId && clusterId !== "0") {
      if (this.clusterId === null) this.clusterId = clusterId;
      else if (clusterId !== this.clusterId) {
        // A different cluster (e.g. etcd restored or recreated empty): our revisions mean nothing there.
        return this.fail(
          new StoreUnavailableError(`${this.store.describe()}: cluster identity changed under a watch`),
        );
      }
    }
    if (res.created) {
      if (res.canceled) {
        return this.fail(new Error(`etcd refused the watch: ${res.cancel_reason || "no reason given"}`));
      }
      this.failingSince = null;
      this.backoffMs = WATCH_BACKOFF_MIN_MS;
      if (!this.established) {
        this.established = true;
        this.settleEstablish?.();
      }
      return;
    }
    if (res.canceled) {
      const compactRevision = num(res.compact_revision);
      if (compactRevision > 0) {
        this.store.noteCompactRevision(compactRevision);
        return this.fail(new CompactedError(this.safeRevision, compactRevision));
      }
      return this.fail(
        new StoreUnavailableError(
          `${this.store.describe()}: etcd canceled the watch: ${res.cancel_reason || "no reason given"}`,
        ),
      );
    }
    if (res.events.length === 0) {
      // A progress notification; etcd sends those only to watchers that have caught up.
      this.safeRevision = Math.max(this.safeRevision, num(res.header.revision));
      return;
    }
    const events: StoreEvent[] = [];
    let maxRevision = this.safeRevision;
    for (const ev of res.events) {
      const rev = num(ev.kv.mod_revision);
      // A resume starts after safeRevision, so nothing here should be old; this guards the invariant.
      if (rev <= this.lastDelivered) continue;
      events.push(this.store.convertEvent(ev));
      if (rev > maxRevision) maxRevision = rev;
    }
    // etcd splits catch-up batches only at revision boundaries, so every revision up to the highest one
    // seen is complete. The header revision is not used: while catching up it is the store's current
    // revision, far ahead of what has been sent.
    this.safeRevision = maxRevision;
    if (events.length === 0) return;
    this.lastDelivered = maxRevision;
    try {
      this.opts.onEvents(events);
    } catch (err) {
      // A consumer that throws has lost events; a broken watch (re-list) is the only consistent answer.
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private broken(err: unknown): void {
    if (this.finished) return;
    this.teardown();
    if (!this.established) {
      this.settleEstablish?.(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.store.isClosed())
      return this.fail(new StoreUnavailableError(`${this.store.describe()}: the store has been closed`));
    const now = Date.now();
    this.failingSince ??= now;
    if (now - this.failingSince >= WATCH_RECONNECT_BUDGET_MS) {
      return this.fail(
        this.store.unavailable(err, `watch (reconnecting for ${WATCH_RECONNECT_BUDGET_MS}ms)`),
      );
    }
    const wait = this.backoffMs * (0.5 + Math.random() / 2);
    this.backoffMs = Math.min(this.backoffMs * 2, WATCH_BACKOFF_MAX_MS);
    this.retryTimer = setTimeout(() => void this.connect(), wait);
  }

  private teardown(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const stream = this.stream;
    this.stream = null;
    if (stream) endStream(stream);
  }

  /** Ends the watch and reports `err` once through onError (or rejects a pending establish). */
  fail(err: Error): void {
    if (this.finished) return;
    if (!this.established && this.settleEstablish) return this.settleEstablish(err);
    this.finished = true;
    this.teardown();
    this.store.forget(this);
    try {
      this.opts.onError(err);
    } catch (thrown) {
      // Called from gRPC stream callbacks: a throw here must not take the shared connection down with it.
      process.emitWarning(`store watcher threw in onError: ${errorText(thrown)}`);
    }
  }

  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.teardown();
    this.store.forget(this);
  }
}
