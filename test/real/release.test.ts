/**
 * The genuine Kubernetes 1.20.2 tree (Debian's `kubernetes` source package, checked against its
 * .dsc), built through kmem-build with Go 1.15, the Go that release shipped with. Nothing here
 * is a fixture: the tree, its Makefile and hack/ build, its vendored runc rc92 are upstream's.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { execa } from "execa";
import { readFile, readdir, stat } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cli } from "../helpers/cli.js";
import { KMEM_ENABLING_STRING, NOKMEM_MARKER_STRING } from "../../src/inspect/evidence.js";
import {
  realBuild,
  realBuildArgs,
  realSource,
  tagIgnoredBuild,
  REAL_ARCHES,
  REAL_IMAGE,
  REAL_VERSION,
  BUILD_TIMEOUT_MS,
  type RealBuild,
} from "./shared.js";

const ELF_MACHINE = { amd64: 62, arm64: 183 } as Record<string, number>;
const RPM_ARCH = { amd64: "x86_64", arm64: "aarch64" } as Record<string, string>;

interface Manifest {
  builder: { image: string; goVersion: string | null };
  outputs: { file: string; kind: string; arch?: string; evidence?: { verdict: string; goVersion: string } }[];
}

let build: RealBuild;
let manifest: Manifest;

beforeAll(async () => {
  build = await realBuild();
  if (build.result.code === 0)
    manifest = JSON.parse(await readFile(join(build.releaseDir, "manifest.json"), "utf8")) as Manifest;
}, BUILD_TIMEOUT_MS);

describe(`kmem-build build --kubernetes ${REAL_VERSION} --arch ${REAL_ARCHES.join(",")} on the real tree`, () => {
  it("exits 0", () => {
    expect(build.result.code, build.result.stderr.slice(-4000)).toBe(0);
    const json = JSON.parse(build.result.stdout) as { kubernetes: string; recipe: string };
    expect(json).toMatchObject({ ok: true, kubernetes: REAL_VERSION, recipe: "tag-era" });
  });

  it("the amd64 kubelet runs and says it is Kubernetes v1.20.2+nokmem (the version mark)", async () => {
    const r = await execa(join(build.releaseDir, "kubelet-linux-amd64"), ["--version"]);
    expect(r.stdout.trim()).toBe(`Kubernetes v${REAL_VERSION}+nokmem`);
  });

  it.each(REAL_ARCHES)(
    "%s: an ELF for that machine, static, nokmem by inspection of its bytes",
    async (arch) => {
      const bin = await readFile(join(build.releaseDir, `kubelet-linux-${arch}`));
      expect(bin.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
      expect(bin.readUInt16LE(18)).toBe(ELF_MACHINE[arch]);
      // Read here without the tool's inspector: runc rc92's nokmem variant is linked, its kmem code is not.
      expect(bin.includes(KMEM_ENABLING_STRING)).toBe(false);
      expect(bin.includes(NOKMEM_MARKER_STRING)).toBe(true);
      const out = manifest.outputs.find((o) => o.file === `kubelet-linux-${arch}`)!;
      expect(out.evidence!.verdict).toBe("nokmem-variant-linked");
    },
  );

  it("the manifest says which Go built each binary: Go 1.15 from the image", () => {
    expect(manifest.builder.image).toBe(REAL_IMAGE);
    for (const arch of REAL_ARCHES) {
      const out = manifest.outputs.find((o) => o.file === `kubelet-linux-${arch}`)!;
      expect(out.evidence!.goVersion).toMatch(/^go1\.15\.\d+$/);
    }
  });

  it.each(REAL_ARCHES)("%s: an RPM named and versioned like the official one", async (arch) => {
    const rpm = join(build.releaseDir, `kubelet-${REAL_VERSION}-2.nokmem.${RPM_ARCH[arch]}.rpm`);
    const q = await execa("rpm", ["-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}", rpm]);
    expect(q.stdout).toBe(`kubelet ${REAL_VERSION} 2.nokmem ${RPM_ARCH[arch]}`);
    const files = (await execa("rpm", ["-qpl", rpm])).stdout.split("\n");
    expect(files).toContain("/usr/bin/kubelet");
    expect((await stat(rpm)).size).toBeGreaterThan(10_000_000);
  });

  it("sha256sum -c SHA256SUMS passes", async () => {
    const r = await execa("sha256sum", ["-c", "SHA256SUMS"], { cwd: build.releaseDir });
    expect(r.stdout).toMatch(/kubelet-linux-amd64: OK/);
  });

  it("without --image the tree's own kube-cross image is chosen", async () => {
    const src = await realSource();
    const args = (await realBuildArgs(build.outDir, ["--dry-run", "--json"])).filter(
      (a, i, all) => a !== "--image" && all[i - 1] !== "--image",
    );
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("registry.k8s.io/build-image/kube-cross:v1.15.5-1");
    expect(src.tarball).toMatch(/kubernetes_1\.20\.5\+really1\.20\.2\.orig\.tar\.gz$/);
  });
});

describe("negative control: the same real tree with the tag not taking effect", () => {
  it(
    "is refused by inspection: exit 1, nothing published, the refused binary kept aside",
    async () => {
      const neg = await tagIgnoredBuild();
      expect(neg.result.code, neg.result.stderr.slice(-3000)).toBe(1);
      expect(neg.result.stderr).toContain("still links runc's kmem-enabling code");
      expect(neg.result.stderr).toContain("nothing was published");
      expect(existsSync(neg.releaseDir)).toBe(false);
      expect((await readdir(neg.outDir)).filter((f) => !f.startsWith("."))).toEqual([]);
      const kept = await readFile(neg.rejectedKubelet);
      expect(kept.includes(KMEM_ENABLING_STRING)).toBe(true);
      expect(kept.includes(NOKMEM_MARKER_STRING)).toBe(false);
    },
    BUILD_TIMEOUT_MS,
  );
});

describe("a second build of the unchanged real tree", () => {
  it(
    "compiles nothing and gives the same binaries",
    async () => {
      const before = await readFile(join(build.releaseDir, "SHA256SUMS"), "utf8");
      const t0 = Date.now();
      const r = await cli(await realBuildArgs(build.outDir, ["--json"]), { timeout: 15 * 60_000 });
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      const json = JSON.parse(r.stdout) as { compiled: string[]; cached: string[] };
      expect(json.compiled).toEqual([]);
      expect(json.cached.sort()).toEqual([...REAL_ARCHES].sort());
      expect(r.stderr).not.toMatch(/Building go targets/);
      const after = await readFile(join(build.releaseDir, "SHA256SUMS"), "utf8");
      const kubelets = (s: string) => s.split("\n").filter((l) => / kubelet-linux-/.test(l));
      expect(kubelets(after)).toEqual(kubelets(before));
      console.log(`no-op rebuild of the real tree: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
    15 * 60_000,
  );
});

describe("the kubelet without Kubernetes' code generators (recipe tag-era, proven for 1.20)", () => {
  it(
    "is byte for byte the kubelet `make` builds after running them (--run-generators)",
    async () => {
      const generated = join(build.outDir, "..", "out-generators");
      const r = await cli(
        await realBuildArgs(generated, ["--arch", "amd64", "--no-rpm", "--run-generators", "--json"]),
        { timeout: BUILD_TIMEOUT_MS },
      );
      expect(r.code, r.stderr.slice(-3000)).toBe(0);
      // Compiled, not taken from the binary cache: the compile command is part of its key.
      expect((JSON.parse(r.stdout) as { compiled: string[] }).compiled).toEqual(["amd64"]);
      const madeWith = join(generated, REAL_VERSION);
      const withRecord = JSON.parse(await readFile(join(madeWith, "manifest.json"), "utf8"));
      const withoutRecord = JSON.parse(await readFile(join(build.releaseDir, "manifest.json"), "utf8"));
      expect(withoutRecord.build.codeGenerators.run).toBe(false);
      expect(withoutRecord.build.command).toEqual(["hack/make-rules/build.sh", "cmd/kubelet"]);
      expect(withRecord.build).toMatchObject({
        command: ["make", "WHAT=cmd/kubelet"],
        codeGenerators: { run: true, why: "--run-generators" },
      });
      // The generators really ran in the one and not in the other (their tools are built first).
      const logWith = await readFile(join(madeWith, "build.log"), "utf8");
      const logWithout = await readFile(join(build.releaseDir, "build.log"), "utf8");
      expect(logWith).toMatch(/openapi-gen/);
      expect(logWithout).not.toMatch(/openapi-gen/);
      const sha = async (f: string) => (await execa("sha256sum", [f])).stdout.split(" ")[0];
      const a = await sha(join(madeWith, "kubelet-linux-amd64"));
      const b = await sha(join(build.releaseDir, "kubelet-linux-amd64"));
      expect(a).toMatch(/^[0-9a-f]{64}$/);
      expect(a).toBe(b);
      console.log(`kubelet with and without the code generators: sha256 ${a} both`);
    },
    BUILD_TIMEOUT_MS,
  );
});
