import { afterAll, describe, expect, it } from "vitest";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/exec.js";
import { parseSha256Sums, writeSha256Sums } from "../../src/package/checksums.js";
import { removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("SHA256SUMS", () => {
  it("is sorted by name, in sha256sum format, and sha256sum -c accepts it until a file changes", async () => {
    const dir = await tempDir("sums");
    await mkdir(join(dir, "x86_64"));
    await writeFile(join(dir, "kubelet-b.rpm"), "bbb");
    await writeFile(join(dir, "kubelet-a.rpm"), "aaa");
    await writeFile(join(dir, "x86_64", "kubelet"), "binary");
    const out = await writeSha256Sums(dir, [
      join(dir, "kubelet-b.rpm"),
      "x86_64/kubelet",
      join(dir, "kubelet-a.rpm"),
    ]);
    expect(out).toBe(join(dir, "SHA256SUMS"));
    const text = await readFile(out, "utf8");
    expect(text).toBe(
      "9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0  kubelet-a.rpm\n" +
        "3e744b9dc39389baf0c5a0660589b8402f3dbb49b89b3e75f2c9355852a3c677  kubelet-b.rpm\n" +
        "9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd  x86_64/kubelet\n",
    );
    expect((await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir })).stdout).toContain(
      "kubelet-a.rpm: OK",
    );
    await writeFile(join(dir, "kubelet-b.rpm"), "tampered");
    const bad = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir, allowFailure: true });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toContain("kubelet-b.rpm: FAILED");
  });

  it("refuses files outside the directory", async () => {
    const dir = await tempDir("sums-out");
    await expect(writeSha256Sums(dir, ["/etc/hostname"])).rejects.toThrow(/not inside/);
  });

  it("parses text and binary mode lines and rejects anything else", () => {
    const h = "ab".repeat(32);
    expect([...parseSha256Sums(`${h}  a.rpm\n${h.toUpperCase()} *b.rpm\n\n`)]).toEqual([
      ["a.rpm", h],
      ["b.rpm", h],
    ]);
    expect(() => parseSha256Sums("not a checksum\n")).toThrow(/not a sha256sum line/);
  });
});
