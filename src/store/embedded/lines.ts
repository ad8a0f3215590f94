/**
 * The on-disk line format shared by the WAL and the snapshot: `<crc32 as 8 hex digits> <json>\n`, the CRC
 * taken over the UTF-8 bytes of the JSON. One record per line keeps the files greppable and lets recovery
 * find record boundaries after damage; the checksum tells a torn or rotten line from a good one.
 */
import type { FileHandle } from "node:fs/promises";
import { crc32 } from "./crc32.js";

const NEWLINE = 0x0a;
const SPACE = 0x20;
const HEADER = 9; // 8 hex digits and a space

export function encodeLine(json: string): Buffer {
  const len = Buffer.byteLength(json);
  const buf = Buffer.allocUnsafe(HEADER + len + 1);
  buf.write(json, HEADER, len, "utf8");
  buf.write(crc32(buf, HEADER, HEADER + len).toString(16).padStart(8, "0"), 0, 8, "latin1");
  buf[8] = SPACE;
  buf[HEADER + len] = NEWLINE;
  return buf;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * The JSON of a line held in `buf[start, end)` (without the newline), or null when the checksum does not
 * match. The JSON itself is not parsed: a line can pass the checksum and still be nonsense to the caller.
 */
export function checkLine(buf: Buffer, start: number, end: number): string | null {
  if (end - start < HEADER + 2 || buf[start + 8] !== SPACE) return null;
  let want = 0;
  for (let i = 0; i < 8; i++) {
    const d = hexDigit(buf[start + i]);
    if (d < 0) return null;
    want = want * 16 + d;
  }
  if (crc32(buf, start + HEADER, end) !== want) return null;
  return buf.toString("utf8", start + HEADER, end);
}

export interface Line {
  /** Byte offset of the line in the file. */
  offset: number;
  /** Byte offset just past the line (past its newline). */
  end: number;
  /** The JSON, or null when the line is damaged (bad checksum, or the file ends without a newline). */
  json: string | null;
}

const CHUNK = 4 << 20;

/**
 * Reads a file line by line in chunks, so that opening a large store never holds the whole file in memory
 * (and never builds one huge string whose slices would pin it).
 */
export async function* readLines(fh: FileHandle): AsyncGenerator<Line> {
  let buf = Buffer.allocUnsafe(CHUNK);
  let fill = 0; // bytes of buf in use
  let bufOffset = 0; // file offset of buf[0]
  let eof = false;
  while (!eof || fill > 0) {
    if (!eof) {
      if (fill === buf.length) {
        // A line longer than the buffer (a large value): grow instead of giving up.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, fill);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, fill, buf.length - fill, bufOffset + fill);
      if (bytesRead === 0) eof = true;
      fill += bytesRead;
    }
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, start);
      if (nl < 0 || nl >= fill) break;
      yield { offset: bufOffset + start, end: bufOffset + nl + 1, json: checkLine(buf, start, nl) };
      start = nl + 1;
    }
    if (eof && start < fill) {
      yield { offset: bufOffset + start, end: bufOffset + fill, json: null }; // no newline: an unfinished write
      start = fill;
    }
    buf.copy(buf, 0, start, fill);
    fill -= start;
    bufOffset += start;
  }
}
