/**
 * Per-caller limits, checked right after authentication: a request rate (token bucket) and a number of open
 * watches. A caller is the authenticated user; anonymous callers are told apart by client address, so one
 * anonymous client cannot use up everybody's share. Exempt users (by default the `system:*` identities of
 * the controllers and the administrator, never `system:anonymous`) are not limited: a controller catching up
 * after an outage must not be slowed down by a limit meant for people and their scripts.
 */
import type { FastifyRequest } from "fastify";
import { Errors } from "../errors.js";
import { ANONYMOUS } from "../auth/index.js";
import { TokenBuckets } from "./buckets.js";

export interface LimitsConfig {
  /** Sustained requests per second per caller; 0 turns rate limiting off. */
  rateLimit: number;
  /** Requests a caller may make at once after being idle. */
  rateBurst: number;
  /** User names or `prefix*` patterns that no limit applies to. */
  exempt: string[];
  /** Open watches per caller; 0 means no limit. */
  maxWatchesPerUser: number;
}

/** What a watcher over the limit is told to wait: watches end when their clients or controllers move on. */
const WATCH_RETRY_AFTER_SECONDS = 5;

/**
 * Whether `user` matches one of `patterns`: an exact name, or `prefix*`. A wildcard never matches
 * `system:anonymous` — exempting anonymous callers takes naming them.
 */
export function isExempt(user: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) {
    if (pattern === user) return true;
    if (pattern.endsWith("*") && user !== ANONYMOUS && user.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}

/** The key a caller's budget is kept under. */
export function callerKey(user: string, address: string): string {
  return user === ANONYMOUS ? `${ANONYMOUS}@${address}` : user;
}

export class RequestLimits {
  private readonly buckets: TokenBuckets | null;
  private readonly watches = new Map<string, number>();

  constructor(
    private readonly config: LimitsConfig,
    options: { now?: () => number; maxBuckets?: number } = {},
  ) {
    this.buckets =
      config.rateLimit > 0
        ? new TokenBuckets({ perSecond: config.rateLimit, burst: config.rateBurst, ...options })
        : null;
  }

  /** Callers with a rate budget right now (idle ones are dropped). */
  get trackedCallers(): number {
    return this.buckets?.size ?? 0;
  }

  /** Open watches of the caller `key` (see {@link callerKey}). */
  openWatches(key: string): number {
    return this.watches.get(key) ?? 0;
  }

  /** Throws a 429 problem with Retry-After when the authenticated caller of `req` is over its rate. */
  admit(req: FastifyRequest): void {
    if (this.buckets === null || isExempt(req.user, this.config.exempt)) return;
    const wait = this.buckets.take(callerKey(req.user, req.ip));
    if (wait > 0) throw Errors.rateLimited(this.config.rateLimit, this.config.rateBurst, wait);
  }

  /**
   * Counts a new watch of the caller of `req`, or throws a 429 problem when it has as many open as allowed.
   * The returned function ends the count; calling it more than once is harmless.
   */
  acquireWatch(req: FastifyRequest): () => void {
    const max = this.config.maxWatchesPerUser;
    if (max <= 0 || isExempt(req.user, this.config.exempt)) return () => {};
    const key = callerKey(req.user, req.ip);
    const open = this.watches.get(key) ?? 0;
    if (open >= max) throw Errors.tooManyWatches(max, WATCH_RETRY_AFTER_SECONDS);
    this.watches.set(key, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.watches.get(key) ?? 1) - 1;
      if (left <= 0) this.watches.delete(key);
      else this.watches.set(key, left);
    };
  }
}
