import { describe, it, expect } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readBinary } from "../../src/inspect/read-binary.js";
import { findEvidence, KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING } from "../../src/inspect/evidence.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("streaming scan of a binary equals reading it whole", () => {
  const real = ["/usr/bin/runc", "/usr/bin/podman", process.execPath].filter((p) => existsSync(p));

  it.each(real)("%s (Go build info, strings, hash), at several chunk sizes", async (path) => {
    const whole = readFileSync(path);
    for (const chunk of [4093, 65536 + 7, 4 << 20]) {
      const scan = await readBinary(path, ["go1."], chunk);
      expect(scan.evidence).toEqual(findEvidence(whole));
      expect(scan.sha256).toBe(sha256(whole));
      expect(scan.size).toBe(whole.length);
      expect(scan.head.equals(whole.subarray(0, 64 * 1024))).toBe(true);
    }
  });

  it("finds strings that straddle a chunk boundary", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kmem-scan-"));
    const file = join(dir, "bin");
    const chunk = 1000;
    // Each string starts 10 bytes before a chunk ends, so no single chunk holds it.
    const pad = (n: number) => Buffer.alloc(n, 0x2e);
    const body = Buffer.concat([
      pad(chunk - 10),
      Buffer.from(KMEM_ENABLING_STRING),
      pad(3 * chunk - 10 - (chunk - 10 + KMEM_ENABLING_STRING.length)),
      Buffer.from(NOKMEM_MARKER_STRING),
      pad(500),
    ]);
    await writeFile(file, body);
    const scan = await readBinary(file, [], chunk);
    expect(scan.evidence).toMatchObject({
      kmemEnablingCode: true,
      disabledMarker: true,
      verdict: "kmem-code-linked",
    });
    expect(scan.evidence).toEqual(findEvidence(body));
  });

  it("takes a go1.N.M version whole when a chunk boundary cuts it anywhere", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kmem-scan-"));
    const file = join(dir, "bin");
    const chunk = 512;
    for (const version of ["go1.15.15", "go1.20", "go1.9.7"]) {
      // A decoy that is no version ("go1.x") first, then the version cut at every position.
      for (let cut = 0; cut <= version.length; cut++) {
        const before = Buffer.concat([Buffer.alloc(100, 0x2e), Buffer.from("go1.x")]);
        const body = Buffer.concat([
          before,
          Buffer.alloc(chunk - before.length - cut, 0x2e),
          Buffer.from(version),
          Buffer.from(" linux/amd64"),
          Buffer.alloc(700, 0x2e),
        ]);
        await writeFile(file, body);
        const scan = await readBinary(file, [], chunk);
        expect(findEvidence(body).goVersion).toBe(version);
        expect(scan.evidence.goVersion, `${version} cut after ${cut} bytes`).toBe(version);
      }
    }
  });

  it("takes a version that ends the file, and none that is cut by the file's end", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kmem-scan-"));
    const file = join(dir, "bin");
    for (const [tail, want] of [
      ["go1.15.15", "go1.15.15"],
      ["go1.15.", "go1.15"],
      ["go1.", null],
    ] as const) {
      const body = Buffer.concat([Buffer.alloc(1024 - 3, 0x2e), Buffer.from(tail)]);
      await writeFile(file, body);
      for (const chunk of [1024, 1000, 4096]) {
        const scan = await readBinary(file, [], chunk);
        expect(findEvidence(body).goVersion).toBe(want);
        expect(scan.evidence.goVersion, `${tail} at chunk ${chunk}`).toBe(want);
      }
    }
  });

  it("reads a file smaller than the overlap, and an empty one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kmem-scan-"));
    const file = join(dir, "bin");
    for (const body of [Buffer.from("go1.16.3"), Buffer.alloc(0)]) {
      await writeFile(file, body);
      const scan = await readBinary(file, [], 4);
      expect(scan.size).toBe(body.length);
      expect(scan.sha256).toBe(sha256(body));
      expect(scan.evidence).toEqual(findEvidence(body));
    }
  });
});
