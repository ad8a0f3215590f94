/**
 * Request bodies: JSON whatever the Content-Type says (Krake ignores the header), 415 when the text is not
 * JSON, and a nesting limit so that no stack-hungry code downstream ever sees a hostile document.
 */
import { ApiError, Errors } from "./errors.js";

export const MAX_NESTING = 100;

export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw Errors.unsupportedMediaType();
  }
  const deep = findTooDeep(value, MAX_NESTING);
  if (deep) {
    const path = deep.join(".");
    throw new ApiError(422, null, `1 validation error: ${path}: Nesting deeper than ${MAX_NESTING} levels is not accepted.`, [
      { path, message: `Nesting deeper than ${MAX_NESTING} levels is not accepted.` },
    ]);
  }
  return value;
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

/**
 * Iterative, so a 100,000-level document cannot overflow the stack here either. Paths are built only for
 * the one node that fails: this runs on every request body.
 */
function findTooDeep(root: unknown, limit: number): (string | number)[] | null {
  const stack: Frame[] = [{ value: root, depth: 0, parent: null, key: "" }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const { value, depth } = frame;
    if (value === null || typeof value !== "object") continue;
    if (depth >= limit) {
      const path: (string | number)[] = [];
      for (let f: Frame | null = frame; f && f.parent; f = f.parent) path.unshift(f.key);
      return path;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (v !== null && typeof v === "object") stack.push({ value: v, depth: depth + 1, parent: frame, key: i });
      }
    } else {
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k];
        if (v !== null && typeof v === "object") stack.push({ value: v, depth: depth + 1, parent: frame, key: k });
      }
    }
  }
  return null;
}
