export { KrakeClient, KindClient } from "./client.js";
export type {
  ClientOptions,
  CallOptions,
  ListResult,
  WatchEvent,
  WatchEventType,
  WatchOptions,
} from "./client.js";
export { KrakeApiError, KrakeConnectionError } from "./errors.js";
export type { TlsOptions } from "../util/http.js";
