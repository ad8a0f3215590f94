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
  const crc = crc32(buf, HEADER, HEADER + len);
  buf.write(crc.toString(16).padStart(8, "0"), 0, 8, "latin1");
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

async function readInto(fh: FileHandle, buf: Buffer, position: number): Promise<Buffer> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, position);
  return buf.subarray(0, bytesRead);
}

/**
 * Calls `onLine` for every line of a file, in order; an exception from it stops the scan. Opening a large
 * store is dominated by this loop, hence: two fixed buffers used in turn, so the next chunk is read while
 * the current one is worked through, with no allocation per chunk (fresh 4 MiB buffers bloat the RSS
 * through malloc fragmentation); each line's JSON decoded only when its turn comes, so it dies young
 * instead of being promoted with a whole chunk's worth of others; and only a line split across chunks is
 * copied.
 */
export async function scanLines(fh: FileHandle, onLine: (line: Line) => void): Promise<void> {
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let turn = 0;
  let position = 0;
  let next = readInto(fh, bufs[turn], position);
  let carry: Buffer[] = []; // copies of the start of a line that continues in this chunk
  let carryOffset = 0;
  try {
    for (;;) {
      const chunk = await next;
      const chunkOffset = position;
      const eof = chunk.length === 0;
      position += chunk.length;
      turn ^= 1;
      if (!eof) next = readInto(fh, bufs[turn], position);
      let start = 0;
      if (carry.length > 0) {
        const nl = chunk.indexOf(NEWLINE);
        if (nl < 0 && !eof) {
          carry.push(Buffer.from(chunk)); // a line longer than a chunk (a large value)
          continue;
        }
        const line = Buffer.concat([...carry, chunk.subarray(0, nl < 0 ? 0 : nl)]);
        carry = [];
        // At the end of the file without a newline: a write that did not finish.
        const json = nl < 0 ? null : checkLine(line, 0, line.length);
        onLine({ offset: carryOffset, end: carryOffset + line.length + (nl < 0 ? 0 : 1), json });
        start = nl + 1;
      }
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl < 0) break;
        onLine({ offset: chunkOffset + start, end: chunkOffset + nl + 1, json: checkLine(chunk, start, nl) });
        start = nl + 1;
      }
      if (eof) return;
      if (start < chunk.length) {
        carry = [Buffer.from(chunk.subarray(start))];
        carryOffset = chunkOffset + start;
      }
    }
  } finally {
    // The caller may stop early (corruption found) and close the file: let the read ahead finish first.
    await next.catch(() => {});
  }
}
