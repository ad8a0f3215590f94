/**
 * The WAL file being appended to. Appends go at an explicit position rather than O_APPEND so that a failed
 * batch can be cut off again with ftruncate and the next batch written exactly where it would have gone.
 */
import { open, type FileHandle } from "node:fs/promises";
import { fsyncDir, walPath, writeAll } from "./files.js";

/**
 * Replaceable file operations, so tests can inject the failures (ENOSPC part-way through a batch, EIO on
 * fdatasync) that a real disk rarely produces on demand.
 */
export interface WalIo {
  write(fh: FileHandle, buf: Buffer, position: number): Promise<void>;
  sync(fh: FileHandle): Promise<void>;
}

export const realIo: WalIo = {
  write: writeAll,
  sync: (fh) => fh.datasync(),
};

export class WalFile {
  private constructor(
    readonly path: string,
    readonly startRevision: number,
    private readonly fh: FileHandle,
    /** Bytes of durable records; the next batch is written here. */
    public size: number,
    /** Records in this file, for the snapshot trigger. */
    public records: number,
  ) {}

  static async openExisting(
    path: string,
    startRevision: number,
    size: number,
    records: number,
  ): Promise<WalFile> {
    return new WalFile(path, startRevision, await open(path, "r+"), size, records);
  }

  /** A new, empty WAL whose directory entry is durable before any record is acknowledged in it. */
  static async create(dir: string, startRevision: number, fsync: boolean): Promise<WalFile> {
    const path = walPath(dir, startRevision);
    const fh = await open(path, "wx");
    try {
      if (fsync) await fsyncDir(dir);
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new WalFile(path, startRevision, fh, 0, 0);
  }

  async append(buf: Buffer, records: number, fsync: boolean, io: WalIo): Promise<void> {
    await io.write(this.fh, buf, this.size);
    if (fsync) await io.sync(this.fh);
    this.size += buf.length;
    this.records += records;
  }

  /** Removes whatever a failed append left after the durable records. */
  async cutBack(fsync: boolean): Promise<void> {
    await this.fh.truncate(this.size);
    if (fsync) await this.fh.datasync();
  }

  async close(sync: boolean): Promise<void> {
    try {
      if (sync) await this.fh.datasync();
    } finally {
      await this.fh.close();
    }
  }
}
