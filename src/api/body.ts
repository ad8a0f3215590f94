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

/** Iterative, so a 100,000-level document cannot overflow the stack here either. */
function findTooDeep(root: unknown, limit: number): (string | number)[] | null {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (path.length >= limit) return path;
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }));
    else for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] });
  }
  return null;
}
