/**
 * A small zip reader for CSAR archives (TOSCA's Cloud Service Archive is a zip file): the central
 * directory, stored and deflated entries, zip64 sizes and offsets. No dependency; the archive is in memory
 * (the caller downloads it with a size limit).
 *
 * The archive comes from a URL anybody can put into an Application, so the reader assumes it is hostile:
 * - at most `maxEntries` entries, and the uncompressed sizes the central directory declares may add up to
 *   at most `maxTotalBytes` (checked when the archive is opened, before anything is inflated);
 * - an entry never inflates beyond its declared size (zlib stops there), so a lying size cannot blow up
 *   memory; the size and CRC-32 are checked after inflating;
 * - overlapping entries (the "better zip bomb" trick) gain nothing: every read is capped by its own
 *   declared size and the declared sizes are capped together;
 * - encrypted entries, unknown compression methods, multi-disk archives and duplicate names are refused
 *   rather than guessed at.
 */
import { inflateRawSync } from "node:zlib";

export interface ZipLimits {
  /** Most entries (files and directories) an archive may list. */
  maxEntries?: number;
  /** Most bytes all entries may declare uncompressed, together. */
  maxTotalBytes?: number;
}

export const ZIP_DEFAULT_LIMITS: Readonly<Required<ZipLimits>> = {
  maxEntries: 10_000,
  maxTotalBytes: 100 * 1024 * 1024,
};

export class ZipError extends Error {
  override name = "ZipError";
}

export interface ZipEntry {
  /** The path inside the archive, `/`-separated; directories end with `/`. */
  readonly name: string;
  readonly isDirectory: boolean;
  /** Uncompressed size, as the central directory declares it. */
  readonly size: number;
  readonly compressedSize: number;
  /** 0 stored, 8 deflated; others cannot be read. */
  readonly method: number;
  readonly crc32: number;
  readonly encrypted: boolean;
  /** Offset of the local file header. */
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_STRONG_ENCRYPTION = 0x0040;
const FLAG_UTF8 = 0x0800;
const EXTRA_ZIP64 = 0x0001;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), as zip stores it. */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Code page 437, bytes 0x80..0xff: names without the UTF-8 flag are in this code page (APPNOTE D.1). */
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀" +
  "αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

function decodeName(bytes: Buffer, utf8: boolean): string {
  if (utf8 || bytes.every((b) => b < 0x80)) {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    try {
      return text.decode(bytes);
    } catch {
      throw new ZipError("an entry name is not valid UTF-8");
    }
  }
  let out = "";
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return out;
}

function quoteName(name: string): string {
  const shown = name.length > 80 ? `${name.slice(0, 80)}...` : name;
  return JSON.stringify(shown);
}

/** A zip archive held in memory; entries are inflated on demand. */
export class ZipArchive {
  readonly entries: readonly ZipEntry[];
  private readonly byName: Map<string, ZipEntry>;

  private constructor(
    private readonly data: Buffer,
    entries: ZipEntry[],
    /** Where the central directory starts: entry data must end before it. */
    private readonly centralOffset: number,
  ) {
    this.entries = entries;
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  /** Reads the central directory; throws ZipError when the archive is malformed or over a limit. */
  static open(data: Uint8Array, limits: ZipLimits = {}): ZipArchive {
    const maxEntries = limits.maxEntries ?? ZIP_DEFAULT_LIMITS.maxEntries;
    const maxTotalBytes = limits.maxTotalBytes ?? ZIP_DEFAULT_LIMITS.maxTotalBytes;
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const dir = findCentralDirectory(buf);
    if (dir.count > maxEntries) {
      throw new ZipError(`the archive has ${dir.count} entries, more than the ${maxEntries} allowed`);
    }
    const entries: ZipEntry[] = [];
    const names = new Set<string>();
    let total = 0;
    let pos = dir.offset;
    const end = dir.offset + dir.size;
    for (let i = 0; i < dir.count; i++) {
      const entry = readCentralEntry(buf, pos, end, dir.offset);
      pos = entry.next;
      if (names.has(entry.entry.name)) {
        throw new ZipError(`the archive lists the entry ${quoteName(entry.entry.name)} twice`);
      }
      names.add(entry.entry.name);
      total += entry.entry.size;
      if (total > maxTotalBytes) {
        throw new ZipError(
          `the archive's entries would inflate to more than the ${maxTotalBytes} bytes allowed`,
        );
      }
      entries.push(entry.entry);
    }
    return new ZipArchive(buf, entries, dir.offset);
  }

  /** The entry with exactly this name, if any. */
  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The uncompressed content of an entry (by name or as listed), checked against its size and CRC-32. */
  read(which: string | ZipEntry): Buffer {
    const entry = typeof which === "string" ? this.byName.get(which) : which;
    if (!entry || this.byName.get(entry.name) !== entry) {
      throw new ZipError(
        `the archive has no entry ${quoteName(typeof which === "string" ? which : which.name)}`,
      );
    }
    const name = quoteName(entry.name);
    if (entry.encrypted) throw new ZipError(`the entry ${name} is encrypted`);
    if (entry.method !== 0 && entry.method !== 8) {
      throw new ZipError(`the entry ${name} uses the unsupported compression method ${entry.method}`);
    }
    const buf = this.data;
    const at = entry.localHeaderOffset;
    if (at + LOCAL_SIZE > this.centralOffset || buf.readUInt32LE(at) !== SIG_LOCAL) {
      throw new ZipError(`the local header of the entry ${name} is missing`);
    }
    const start = at + LOCAL_SIZE + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
    const end = start + entry.compressedSize;
    if (end > this.centralOffset) throw new ZipError(`the data of the entry ${name} is truncated`);
    const raw = buf.subarray(start, end);
    let out: Buffer;
    if (entry.method === 0) {
      if (entry.compressedSize !== entry.size) {
        throw new ZipError(`the stored entry ${name} has different compressed and uncompressed sizes`);
      }
      out = Buffer.from(raw);
    } else {
      try {
        // zlib stops at the declared size, so a lying header cannot make us allocate more.
        out = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
          throw new ZipError(`the entry ${name} inflates to more than its declared ${entry.size} bytes`);
        }
        throw new ZipError(`the entry ${name} is corrupt: ${(err as Error).message}`);
      }
    }
    if (out.length !== entry.size) {
      throw new ZipError(
        `the entry ${name} inflates to ${out.length} bytes, but the archive declares ${entry.size}`,
      );
    }
    if (crc32(out) !== entry.crc32) throw new ZipError(`the entry ${name} fails its CRC-32 check`);
    return out;
  }
}

/** Opens an archive (see {@link ZipArchive.open}). */
export function openZip(data: Uint8Array, limits?: ZipLimits): ZipArchive {
  return ZipArchive.open(data, limits);
}

interface CentralDirectory {
  offset: number;
  size: number;
  count: number;
}

function u64(buf: Buffer, at: number, what: string): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`the archive's ${what} is out of range`);
  return Number(value);
}

function findCentralDirectory(buf: Buffer): CentralDirectory {
  if (buf.length < EOCD_SIZE) throw new ZipError("not a zip archive (too short)");
  // The end record is followed only by its comment: scan back from the end for its signature, and take the
  // last one whose comment length fits (a comment may itself contain the signature bytes).
  let eocd = -1;
  const lowest = Math.max(0, buf.length - EOCD_SIZE - MAX_COMMENT);
  for (let i = buf.length - EOCD_SIZE; i >= lowest; i--) {
    if (buf.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + buf.readUInt16LE(i + 20) <= buf.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError("not a zip archive (no end of central directory record)");
  const disk = buf.readUInt16LE(eocd + 4);
  const cdDisk = buf.readUInt16LE(eocd + 6);
  let onDisk = buf.readUInt16LE(eocd + 8);
  let count = buf.readUInt16LE(eocd + 10);
  let size = buf.readUInt32LE(eocd + 12);
  let offset = buf.readUInt32LE(eocd + 16);
  let limit = eocd;

  const locator = eocd - ZIP64_LOCATOR_SIZE;
  if (locator >= 0 && buf.readUInt32LE(locator) === SIG_ZIP64_LOCATOR) {
    if (buf.readUInt32LE(locator + 16) > 1) throw new ZipError("multi-disk archives are not supported");
    const at = u64(buf, locator + 8, "zip64 end record offset");
    if (at + ZIP64_EOCD_SIZE > locator || buf.readUInt32LE(at) !== SIG_ZIP64_EOCD) {
      throw new ZipError("the zip64 end of central directory record is missing");
    }
    if (buf.readUInt32LE(at + 16) !== 0 || buf.readUInt32LE(at + 20) !== 0) {
      throw new ZipError("multi-disk archives are not supported");
    }
    onDisk = u64(buf, at + 24, "entry count");
    count = u64(buf, at + 32, "entry count");
    size = u64(buf, at + 40, "central directory size");
    offset = u64(buf, at + 48, "central directory offset");
    limit = at;
  } else if (disk !== 0 || cdDisk !== 0) {
    throw new ZipError("multi-disk archives are not supported");
  } else if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    throw new ZipError("the zip64 end of central directory locator is missing");
  }
  if (onDisk !== count) throw new ZipError("multi-disk archives are not supported");
  if (offset + size > limit) throw new ZipError("the central directory lies outside the archive");
  // Each header takes at least 46 bytes: a count the directory cannot hold is a lie.
  if (count * CENTRAL_SIZE > size)
    throw new ZipError("the central directory is shorter than its entry count");
  return { offset, size, count };
}

function readCentralEntry(
  buf: Buffer,
  pos: number,
  end: number,
  centralOffset: number,
): { entry: ZipEntry; next: number } {
  if (pos + CENTRAL_SIZE > end || buf.readUInt32LE(pos) !== SIG_CENTRAL) {
    throw new ZipError("the central directory is corrupt");
  }
  const flags = buf.readUInt16LE(pos + 8);
  const method = buf.readUInt16LE(pos + 10);
  const crc = buf.readUInt32LE(pos + 16);
  let compressedSize = buf.readUInt32LE(pos + 20);
  let size = buf.readUInt32LE(pos + 24);
  const nameLength = buf.readUInt16LE(pos + 28);
  const extraLength = buf.readUInt16LE(pos + 30);
  const commentLength = buf.readUInt16LE(pos + 32);
  let diskStart = buf.readUInt16LE(pos + 34);
  let localHeaderOffset = buf.readUInt32LE(pos + 42);
  const next = pos + CENTRAL_SIZE + nameLength + extraLength + commentLength;
  if (next > end) throw new ZipError("the central directory is corrupt");
  const nameBytes = buf.subarray(pos + CENTRAL_SIZE, pos + CENTRAL_SIZE + nameLength);
  const name = decodeName(nameBytes, (flags & FLAG_UTF8) !== 0);
  if (name === "" || name.includes("\0")) throw new ZipError("an entry has an empty or invalid name");

  // zip64: the 32-bit fields that overflowed hold 0xffffffff and the values follow in the extra field.
  if (
    size === 0xffffffff ||
    compressedSize === 0xffffffff ||
    localHeaderOffset === 0xffffffff ||
    diskStart === 0xffff
  ) {
    let at = pos + CENTRAL_SIZE + nameLength;
    const extraEnd = at + extraLength;
    let found = false;
    while (at + 4 <= extraEnd) {
      const id = buf.readUInt16LE(at);
      const len = buf.readUInt16LE(at + 2);
      const dataEnd = at + 4 + len;
      if (dataEnd > extraEnd) break;
      if (id === EXTRA_ZIP64) {
        found = true;
        let p = at + 4;
        const take = (what: string): number => {
          if (p + 8 > dataEnd) throw new ZipError(`the zip64 field of ${quoteName(name)} is too short`);
          const value = u64(buf, p, what);
          p += 8;
          return value;
        };
        if (size === 0xffffffff) size = take("entry size");
        if (compressedSize === 0xffffffff) compressedSize = take("entry size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take("entry offset");
        if (diskStart === 0xffff) {
          if (p + 4 > dataEnd) throw new ZipError(`the zip64 field of ${quoteName(name)} is too short`);
          diskStart = buf.readUInt32LE(p);
        }
        break;
      }
      at = dataEnd;
    }
    if (!found) throw new ZipError(`the entry ${quoteName(name)} lacks its zip64 sizes`);
  }
  if (diskStart !== 0) throw new ZipError("multi-disk archives are not supported");
  if (localHeaderOffset + LOCAL_SIZE > centralOffset) {
    throw new ZipError(`the entry ${quoteName(name)} points outside the archive`);
  }
  return {
    entry: {
      name,
      isDirectory: name.endsWith("/"),
      size,
      compressedSize,
      method,
      crc32: crc,
      encrypted: (flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) !== 0,
      localHeaderOffset,
    },
    next,
  };
}
