/**
 * A test-only zip writer: enough of the format to build the archives the reader's and the TOSCA
 * translator's tests need, including malformed ones (lying sizes, encryption flags, zip64 records).
 */
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../zip.js";

export interface ZipFileSpec {
  name: string;
  data?: string | Uint8Array;
  /** 0 stored, 8 deflated (default); any other number is written as is. */
  method?: number;
  /** Extra general-purpose flags (bit 0 = encrypted). */
  flags?: number;
  /** Declare this uncompressed size in the central directory instead of the real one. */
  declaredSize?: number;
  /** Declare this CRC-32 instead of the real one. */
  declaredCrc?: number;
  /** Write the name bytes as given, without the UTF-8 flag. */
  rawName?: Uint8Array;
}

export interface ZipOptions {
  /** Write zip64 extra fields and end records, with 0xffffffff in the 32-bit fields. */
  zip64?: boolean;
  /** The archive comment. */
  comment?: string;
  /** Bytes before the first local header. */
  prefix?: Uint8Array;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function buildZip(files: ZipFileSpec[], options: ZipOptions = {}): Buffer {
  const zip64 = options.zip64 ?? false;
  const prefix = Buffer.from(options.prefix ?? []);
  const locals: Buffer[] = [prefix];
  const centrals: Buffer[] = [];
  let offset = prefix.length;
  for (const file of files) {
    const content = typeof file.data === "string" ? Buffer.from(file.data) : Buffer.from(file.data ?? []);
    const method = file.method ?? 8;
    const body = method === 8 ? deflateRawSync(content) : content;
    const name = file.rawName ? Buffer.from(file.rawName) : Buffer.from(file.name, "utf8");
    const flags = (file.rawName ? 0 : 0x0800) | (file.flags ?? 0);
    const crc = file.declaredCrc ?? crc32(content);
    const size = file.declaredSize ?? content.length;
    const local = Buffer.concat([
      u32(0x04034b50),
      u16(zip64 ? 45 : 20),
      u16(flags),
      u16(method),
      u16(0),
      u16(0x21),
      u32(crc),
      u32(zip64 ? 0xffffffff : body.length),
      u32(zip64 ? 0xffffffff : size),
      u16(name.length),
      u16(zip64 ? 20 : 0),
      name,
      zip64 ? Buffer.concat([u16(1), u16(16), u64(size), u64(body.length)]) : Buffer.alloc(0),
    ]);
    const extra = zip64
      ? Buffer.concat([u16(1), u16(24), u64(size), u64(body.length), u64(offset)])
      : Buffer.alloc(0);
    centrals.push(
      Buffer.concat([
        u32(0x02014b50),
        u16(zip64 ? 45 : 20),
        u16(zip64 ? 45 : 20),
        u16(flags),
        u16(method),
        u16(0),
        u16(0x21),
        u32(crc),
        u32(zip64 ? 0xffffffff : body.length),
        u32(zip64 ? 0xffffffff : size),
        u16(name.length),
        u16(extra.length),
        u16(0),
        u16(0),
        u16(0),
        u32(file.name.endsWith("/") ? 0x10 : 0),
        u32(zip64 ? 0xffffffff : offset),
        name,
        extra,
      ]),
    );
    locals.push(local, body);
    offset += local.length + body.length;
  }
  const central = Buffer.concat(centrals);
  const comment = Buffer.from(options.comment ?? "");
  const tail: Buffer[] = [];
  if (zip64) {
    const zip64End = offset + central.length;
    tail.push(
      u32(0x06064b50),
      u64(44),
      u16(45),
      u16(45),
      u32(0),
      u32(0),
      u64(files.length),
      u64(files.length),
      u64(central.length),
      u64(offset),
      u32(0x07064b50),
      u32(0),
      u64(zip64End),
      u32(1),
    );
  }
  tail.push(
    u32(0x06054b50),
    u16(0),
    u16(0),
    u16(zip64 ? 0xffff : files.length),
    u16(zip64 ? 0xffff : files.length),
    u32(zip64 ? 0xffffffff : central.length),
    u32(zip64 ? 0xffffffff : offset),
    u16(comment.length),
    comment,
  );
  return Buffer.concat([...locals, central, ...tail]);
}
