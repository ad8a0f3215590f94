/**
 * Stored objects are JSON with `metadata` as the first key and no `resource_version`: the resource version
 * is the store's modRevision, so it is spliced into the text on the way out instead of parsing and
 * re-serialising every object of a list or a watch stream.
 */
import type { KeyValue } from "../store/store.js";
import type { Resource } from "../resources/kind.js";

const HEAD = '{"metadata":{';

export function encodeForStore(obj: Resource): string {
  const { metadata, ...rest } = obj;
  const { resource_version: _rv, ...meta } = metadata;
  return JSON.stringify({ metadata: meta, ...rest });
}

/** The object as the wire shows it: the stored JSON with `metadata.resource_version` set. */
export function wireJson(value: string, revision: number): string {
  if (value.startsWith(HEAD) && value.charCodeAt(HEAD.length) === 34 /* '"' */) {
    return `${HEAD}"resource_version":"${revision}",${value.slice(HEAD.length)}`;
  }
  // Written by someone else (e.g. Krake's own tools writing to etcd): take the slow, safe path.
  const obj = JSON.parse(value);
  obj.metadata = { ...(obj.metadata ?? {}), resource_version: String(revision) };
  return JSON.stringify(obj);
}

export function decode(kv: KeyValue): Resource {
  const obj = JSON.parse(kv.value) as Resource;
  obj.metadata.resource_version = String(kv.modRevision);
  return obj;
}

export function kvWireJson(kv: KeyValue): string {
  return wireJson(kv.value, kv.modRevision);
}
