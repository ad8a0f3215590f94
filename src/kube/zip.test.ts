import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildZip } from "./testdata/zipwriter.js";
import { ZipError, crc32, openZip } from "./zip.js";

const hasTool = (tool: string) => spawnSync(tool, ["-v"], { stdio: "ignore" }).status === 0;

describe("zip reader", () => {
  it("reads stored and deflated entries, directories and UTF-8 names", () => {
    const zip = openZip(
      buildZip([
        { name: "TOSCA-Metadata/", method: 0 },
        { name: "TOSCA-Metadata/TOSCA.meta", data: "Entry-Definitions: a.yaml\n", method: 0 },
        { name: "a.yaml", data: "x: 1\n".repeat(1000) },
        { name: "empty.txt", data: "" },
        { name: "grüße/ß.txt", data: "ü" },
      ]),
    );
    assert.deepEqual(
      zip.entries.map((e) => [e.name, e.isDirectory, e.method]),
      [
        ["TOSCA-Metadata/", true, 0],
        ["TOSCA-Metadata/TOSCA.meta", false, 0],
        ["a.yaml", false, 8],
        ["empty.txt", false, 8],
        ["grüße/ß.txt", false, 8],
      ],
    );
    assert.equal(zip.read("TOSCA-Metadata/TOSCA.meta").toString(), "Entry-Definitions: a.yaml\n");
    const a = zip.entry("a.yaml")!;
    assert.equal(a.size, 5000);
    assert.ok(a.compressedSize < a.size);
    assert.equal(zip.read(a).toString(), "x: 1\n".repeat(1000));
    assert.equal(zip.read("empty.txt").length, 0);
    assert.equal(zip.read("grüße/ß.txt").toString(), "ü");
    assert.equal(zip.entry("missing"), undefined);
    assert.throws(() => zip.read("missing"), ZipError);
  });

  it("reads an empty archive, leading bytes, and a comment that contains the end signature", () => {
    assert.equal(openZip(buildZip([])).entries.length, 0);
    const fake = Buffer.from([0x50, 0x4b, 0x05, 0x06, 0, 0]).toString("latin1");
    const zip = openZip(
      buildZip([{ name: "a", data: "A" }], {
        comment: `see ${fake} here`,
        prefix: Buffer.from("#!/bin/sh\n"),
      }),
    );
    assert.equal(zip.read("a").toString(), "A");
  });

  it("reads zip64 sizes and offsets", () => {
    const zip = openZip(
      buildZip(
        [
          { name: "a", data: "hello" },
          { name: "b", data: "world", method: 0 },
        ],
        { zip64: true },
      ),
    );
    assert.deepEqual(
      zip.entries.map((e) => [e.name, e.size]),
      [
        ["a", 5],
        ["b", 5],
      ],
    );
    assert.equal(zip.read("b").toString(), "world");
    assert.equal(zip.read("a").toString(), "hello");
  });

  it("decodes names without the UTF-8 flag as code page 437", () => {
    const zip = openZip(buildZip([{ name: "x", rawName: Buffer.from([0x8e, 0x2e, 0x74, 0xe1]), data: "1" }]));
    assert.equal(zip.entries[0].name, "Ä.tß");
  });

  it("computes the standard CRC-32", () => {
    assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
    assert.equal(crc32(Buffer.alloc(0)), 0);
  });

  it("rejects what is not a zip archive, or a truncated one", () => {
    assert.throws(() => openZip(Buffer.from("")), /too short/);
    assert.throws(
      () => openZip(Buffer.from("tosca_definitions_version: tosca_simple_yaml_1_0\n")),
      /no end of central/,
    );
    const whole = buildZip([{ name: "a.yaml", data: "a: 1\n".repeat(100) }]);
    assert.throws(() => openZip(whole.subarray(0, whole.length - 10)), ZipError);
    assert.throws(() => openZip(whole.subarray(40)), ZipError);
    const mangled = Buffer.from(whole);
    mangled.writeUInt32LE(0xdeadbeef, mangled.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    assert.throws(() => openZip(mangled), /central directory is corrupt/);
  });

  it("refuses archives that declare more than maxTotalBytes, before inflating anything", () => {
    const bomb = buildZip([
      { name: "a", data: Buffer.alloc(4 * 1024 * 1024) },
      { name: "b", data: Buffer.alloc(4 * 1024 * 1024) },
    ]);
    assert.ok(bomb.length < 20_000, `a compressible archive, ${bomb.length} bytes`);
    assert.throws(
      () => openZip(bomb, { maxTotalBytes: 5 * 1024 * 1024 }),
      /inflate to more than the 5242880 bytes/,
    );
    assert.equal(openZip(bomb, { maxTotalBytes: 8 * 1024 * 1024 }).entries.length, 2);
  });

  it("never inflates an entry beyond its declared size", () => {
    const liar = buildZip([{ name: "a", data: Buffer.alloc(8 * 1024 * 1024), declaredSize: 100 }]);
    const zip = openZip(liar, { maxTotalBytes: 1000 });
    assert.throws(() => zip.read("a"), /inflates to more than its declared 100 bytes/);
    const short = openZip(buildZip([{ name: "a", data: "abc", declaredSize: 10 }]));
    assert.throws(() => short.read("a"), /inflates to 3 bytes, but the archive declares 10/);
    const stored = openZip(buildZip([{ name: "a", data: "abc", method: 0, declaredSize: 2 }]));
    assert.throws(() => stored.read("a"), /different compressed and uncompressed sizes/);
  });

  it("refuses more entries than maxEntries", () => {
    const files = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, data: "x" }));
    assert.throws(() => openZip(buildZip(files), { maxEntries: 10 }), /11 entries, more than the 10 allowed/);
    assert.equal(openZip(buildZip(files), { maxEntries: 11 }).entries.length, 11);
  });

  it("lists but refuses to read encrypted entries and unknown methods", () => {
    const zip = openZip(
      buildZip([
        { name: "secret", data: "x", flags: 1 },
        { name: "bzip2", data: "x", method: 12 },
        { name: "plain", data: "x" },
      ]),
    );
    assert.equal(zip.entry("secret")!.encrypted, true);
    assert.throws(() => zip.read("secret"), /"secret" is encrypted/);
    assert.throws(() => zip.read("bzip2"), /unsupported compression method 12/);
    assert.equal(zip.read("plain").toString(), "x");
  });

  it("detects corrupt data, bad checksums and duplicate names", () => {
    assert.throws(() => openZip(buildZip([{ name: "a", data: "abc", declaredCrc: 1 }])).read("a"), /CRC-32/);
    const corrupt = buildZip([
      { name: "a", data: Buffer.from([0xff, 0xff, 0xff, 0xff]), method: 0, declaredSize: 4 },
    ]);
    // Claim the stored bytes are deflated: 0xff... is not a valid deflate stream.
    corrupt.writeUInt16LE(8, corrupt.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 10);
    assert.throws(() => openZip(corrupt).read("a"), /"a" is corrupt/);
    assert.throws(
      () =>
        openZip(
          buildZip([
            { name: "a", data: "1" },
            { name: "a", data: "2" },
          ]),
        ),
      /lists the entry "a" twice/,
    );
  });

  it("reads archives made by the zip tool", { skip: !hasTool("zip") && "no zip tool" }, () => {
    const dir = mkdtempSync(join(tmpdir(), "krake-zip-"));
    try {
      mkdirSync(join(dir, "TOSCA-Metadata"));
      writeFileSync(join(dir, "TOSCA-Metadata", "TOSCA.meta"), "Entry-Definitions: app.yaml\n");
      writeFileSync(join(dir, "app.yaml"), "kind: Pod\n".repeat(200));
      writeFileSync(join(dir, "tiny"), "t");
      const r = spawnSync("zip", ["-q", "-r", "out.csar", "TOSCA-Metadata", "app.yaml", "tiny"], {
        cwd: dir,
      });
      assert.equal(r.status, 0, r.stderr?.toString());
      const zip = openZip(readFileSync(join(dir, "out.csar")));
      assert.deepEqual(zip.entries.map((e) => e.name).sort(), [
        "TOSCA-Metadata/",
        "TOSCA-Metadata/TOSCA.meta",
        "app.yaml",
        "tiny",
      ]);
      assert.equal(zip.read("app.yaml").toString(), "kind: Pod\n".repeat(200));
      assert.equal(zip.read("TOSCA-Metadata/TOSCA.meta").toString(), "Entry-Definitions: app.yaml\n");
      assert.equal(zip.read("tiny").toString(), "t");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes test archives the unzip tool accepts", { skip: !hasTool("unzip") && "no unzip tool" }, () => {
    const dir = mkdtempSync(join(tmpdir(), "krake-zip-"));
    try {
      for (const zip64 of [false, true]) {
        const file = join(dir, `t${zip64}.zip`);
        writeFileSync(
          file,
          buildZip(
            [
              { name: "d/", method: 0 },
              { name: "d/a", data: "hello" },
              { name: "b", data: "x", method: 0 },
            ],
            { zip64 },
          ),
        );
        const r = spawnSync("unzip", ["-tq", file]);
        assert.equal(r.status, 0, `${r.stdout?.toString()} ${r.stderr?.toString()}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
