import type { KindDef } from "../resources/kind.js";

/** Krake's etcd key layout, kept so the data stays readable by Krake's own tools. */
export function objectKey(def: KindDef, namespace: string | null, name: string): string {
  return def.namespaced ? `/${def.group}/${def.plural}/${namespace}/${name}` : `/${def.group}/${def.plural}/${name}`;
}

/** Prefix of a namespace's objects, or of every object of the kind when namespace is null. */
export function kindPrefix(def: KindDef, namespace: string | null): string {
  return def.namespaced && namespace !== null ? `/${def.group}/${def.plural}/${namespace}/` : `/${def.group}/${def.plural}/`;
}

/** The namespace segment of a namespaced key, for list-all filtering without parsing values. */
export function namespaceOfKey(def: KindDef, key: string): string | null {
  if (!def.namespaced) return null;
  const rest = key.slice(`/${def.group}/${def.plural}/`.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? null : rest.slice(0, slash);
}
