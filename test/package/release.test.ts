import { afterAll, describe, expect, it } from "vitest";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { run } from "../../src/exec.js";
import { exitCodeOf, UsageError } from "../../src/errors.js";
import {
  checkRelease,
  nextFreeRelease,
  nextRelease,
  OFFICIAL_RELEASES,
  rebuildNotice,
  rpmvercmp,
} from "../../src/package/release.js";
import { removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** Releases and version strings that exercise every branch of rpmvercmp (numbers, letters, ~, ^, zeros, separators). */
const SAMPLES = [
  ...OFFICIAL_RELEASES,
  "1",
  "1.0",
  "1.01",
  "1.1.1",
  "1.10",
  "1.9",
  "2",
  "2.nokmem",
  "3.nokmem",
  "10.nokmem",
  "02.nokmem",
  "2.nokmem.1",
  "2.nokmem~rc1",
  "2.nokmem^git1",
  "2~nokmem",
  "2^nokmem",
  "1.nokmem",
  "0.nokmem",
  "nokmem",
  "nokmem.2",
  "1.1.nokmem",
  "1.2.nokmem",
  "2_nokmem",
  "2+nokmem",
  "2..nokmem",
  "a",
  "b",
  "A",
  "1a",
  "1b",
  "a1",
  "1.a",
  "1~",
  "1^",
  "1~~",
  "1^^",
  "~",
  "^",
  "0",
  "00",
  "000001",
  "1.0~rc1",
  "1.0^",
  "150500.1.1",
  "2.el7",
  "2.el7_9",
  "1.20.15",
  "1.20.2",
  "1.20.15~rc.0",
];

describe("rpmvercmp", () => {
  it("orders every pair of samples exactly as rpm itself does (rpm.vercmp)", async () => {
    const lua = SAMPLES.map((s) => `"${s}"`).join(",");
    const r = await run("rpm", [
      "--eval",
      `%{lua: local s={${lua}} for i=1,#s do for j=1,#s do print(rpm.vercmp(s[i],s[j]) .. " ") end end}`,
    ]);
    const expected = r.stdout.trim().split(/\s+/).map(Number);
    const ours = SAMPLES.flatMap((a) => SAMPLES.map((b) => rpmvercmp(a, b)));
    expect(ours).toHaveLength(SAMPLES.length ** 2);
    const diff = ours
      .map((v, k) => ({
        a: SAMPLES[Math.floor(k / SAMPLES.length)],
        b: SAMPLES[k % SAMPLES.length],
        v,
        rpm: expected[k],
      }))
      .filter((d) => d.v !== d.rpm);
    expect(diff).toEqual([]);
  });
});

describe("the RPM release of a nokmem kubelet", () => {
  it("accepts the default and higher releases that carry the nokmem mark", () => {
    for (const ok of ["2.nokmem", "3.nokmem", "10.nokmem", "2.nokmem.1", "1.2.nokmem", "2.el7.nokmem"])
      expect(() => checkRelease(ok), ok).not.toThrow();
  });

  it("refuses releases that sort at or below the official 0 and 1.1, naming them", () => {
    for (const [bad, official] of [
      ["1.nokmem", /"1\.1"/],
      ["0.nokmem", /release "1\.1"/],
      ["nokmem", /"0" and "1\.1"/],
      ["1~nokmem", /"1\.1"/],
      ["0^nokmem", /"1\.1"/],
    ] as const) {
      const err = (() => {
        try {
          checkRelease(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(UsageError);
      expect(exitCodeOf(err)).toBe(2);
      expect((err as Error).message).toMatch(/sorts at or below the official release/);
      expect((err as Error).message).toMatch(official);
    }
  });

  it("requires nokmem as one part of the release, and rpm's character set", () => {
    expect(() => checkRelease("2")).toThrow(/must carry the mark "nokmem"/);
    expect(() => checkRelease("2.nokmemx")).toThrow(/must carry the mark "nokmem"/);
    expect(() => checkRelease("2-nokmem")).toThrow(/only letters, digits/);
    expect(() => checkRelease("2.nokmem;rm")).toThrow(UsageError);
  });

  it("gives a rebuild the next release, above every release already taken", () => {
    expect(nextRelease("2.nokmem")).toBe("3.nokmem");
    expect(nextRelease("9.nokmem.el7")).toBe("10.nokmem.el7");
    expect(nextFreeRelease("2.nokmem", [])).toBe("2.nokmem");
    expect(nextFreeRelease("2.nokmem", ["2.nokmem"])).toBe("3.nokmem");
    expect(nextFreeRelease("2.nokmem", ["2.nokmem", "3.nokmem", "4.nokmem"])).toBe("5.nokmem");
    expect(nextFreeRelease("2.nokmem", ["3.nokmem.1"])).toBe("4.nokmem");
  });
});

describe("kmem-build build over an output that already holds the version", () => {
  const cli = resolve("lib/cli.js");
  async function dist(releases: string[]): Promise<string> {
    const out = await tempDir("release-dist");
    await mkdir(join(out, "1.20.15"));
    for (const r of releases) await writeFile(join(out, "1.20.15", `kubelet-1.20.15-${r}.x86_64.rpm`), "");
    return out;
  }

  it("names the next free release (and stays quiet for a new one)", async () => {
    const out = await dist(["2.nokmem", "3.nokmem"]);
    expect(rebuildNotice(out, "v1.20.15", undefined)).toBe(
      `${join(out, "1.20.15")} already holds kubelet-1.20.15-3.nokmem: a node that installed it will not take this build as kubelet-1.20.15-2.nokmem; to publish a rebuild, build it with --release 4.nokmem`,
    );
    expect(rebuildNotice(out, "1.20.15", "4.nokmem")).toBeNull();
    expect(rebuildNotice(out, "1.20.14", undefined)).toBeNull();
    const r = await run(
      "node",
      [cli, "build", "--kubernetes", "1.20.15", "--out", out, "--source", out, "--dry-run"],
      { allowFailure: true },
    );
    expect(r.stderr).toContain("to publish a rebuild, build it with --release 4.nokmem");
  });

  it("refuses --release 1.nokmem before any work (exit 2)", async () => {
    const out = await dist([]);
    const r = await run(
      "node",
      [cli, "build", "--kubernetes", "1.20.15", "--out", out, "--release", "1.nokmem", "--dry-run"],
      { allowFailure: true },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/RPM release "1\.nokmem" sorts at or below the official release "1\.1"/);
  });
});
