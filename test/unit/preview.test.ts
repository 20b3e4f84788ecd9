/**
 * --dry-run walks STEPS and asks each step for its preview. The whole output is pinned here: it is
 * what the dry run printed before it was built from the steps' previews (a second walk of its own);
 * execa drops the last newline.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, REPO } from "../helpers/cli.js";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { STEPS } from "../../src/pipeline/index.js";

let dir: string;
let example: ExampleRelease;
const VARS = (arch: string) =>
  `GOFLAGS=-tags=nokmem KUBE_STATIC_OVERRIDES=kubelet KUBE_BUILD_PLATFORMS=linux/${arch} KUBE_GIT_VERSION_FILE=/go/src/k8s.io/kubernetes/.kmem-build/version.env`;
const MAKE = (arch: string) => `make WHAT=cmd/kubelet ${VARS(arch)}`;
/** tag-era's build without the code generators (1.20): the same variables in build.sh's environment. */
const DIRECT = (arch: string) => `env ${VARS(arch)} hack/make-rules/build.sh cmd/kubelet`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kmem-preview-"));
  example = await makeExample("patch-era", "1.13.12", join(dir, "served"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("--dry-run: the steps' previews", () => {
  it("tells what each step would do, in the one STEPS list", () => {
    expect(STEPS.filter((s) => s.preview).map((s) => s.title)).toEqual([
      "preflight",
      "fetch source",
      "check source",
      "builder image",
      "patch",
      "compile",
      "rpm",
      "sign",
    ]);
  });

  it("--source, two arches, --no-rpm, --sign-key: the whole JSON, keys in order", async () => {
    const out = join(dir, "out");
    const r = await cli([
      "build",
      ...["--kubernetes", "1.13.12", "--source", example.tarball, "--arch", "amd64,arm64"],
      ...["--no-rpm", "--sign-key", "x", "--out", out, "--dry-run", "--json"],
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      JSON.stringify(
        {
          dryRun: true,
          kubernetes: "1.13.12",
          recipe: {
            name: "patch-era",
            file: join(REPO, "recipes", "patch-era.yaml"),
            summary: "patch the vendored runc, then build with -tags=nokmem",
            needsRebuild: true,
          },
          notices: [],
          source: { path: example.tarball },
          patches: ["runc-pre-rc6-nokmem.patch"],
          image: {
            reference: "docker.io/library/golang:1.11.13",
            from: "tree:build/build-image/cross/VERSION",
            goVersion: "1.11.13",
          },
          engine: "auto",
          arches: ["amd64", "arm64"],
          commands: { amd64: MAKE("amd64"), arm64: MAKE("arm64") },
          generators: { run: true, why: "recipe patch-era has no build without them" },
          rpm: false,
          signed: true,
          outDir: join(out, "1.13.12"),
        },
        null,
        2,
      ),
    );
  });

  it("no --source: the download URL and the recipe's image, with its note; as text", async () => {
    const env = { KMEM_BUILD_BASE_URL: "http://127.0.0.1:9/none" };
    const out = join(dir, "out");
    const r = await cli(["build", "--kubernetes", "1.20.15", "--out", out, "--dry-run"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      [
        "Kubernetes 1.20.15: recipe tag-era — build with GOFLAGS=-tags=nokmem",
        "  source:  http://127.0.0.1:9/none/v1.20.15/kubernetes-src.tar.gz",
        "  patches: none",
        "  image:   docker.io/library/golang:1.15.15 (recipe table)",
        "  engine:  auto",
        `  amd64: ${DIRECT("amd64")}`,
        "  code generators: skipped (a verified 1.20 release carries its generated files; proven to give the same kubelet)",
        `  output:  ${out}/1.20.15/ (binaries, RPMs, verify-kmem.sh, SHA256SUMS, manifest.json)`,
      ].join("\n"),
    );
    const json = await cli(["build", "--kubernetes", "1.20.15", "--out", out, "--dry-run", "--json"], {
      env,
    });
    expect(JSON.parse(json.stdout).image).toEqual({
      reference: "docker.io/library/golang:1.15.15",
      from: "recipe table",
      goVersion: "1.15.15",
      note: "the source tree may record another Go version",
    });
  });

  it("the code generators run where the build without them is not proven or not vouched for", async () => {
    const env = { KMEM_BUILD_BASE_URL: "http://127.0.0.1:9/none" };
    const out = join(dir, "out");
    const preview = async (...args: string[]) => {
      const r = await cli(["build", "--out", out, "--dry-run", "--json", ...args], { env });
      expect(r.code, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout) as { commands: Record<string, string>; generators: unknown };
      return { command: p.commands.amd64, generators: p.generators };
    };
    const tag20 = await makeExample("tag-era", "1.20.15", join(dir, "tag20"));
    expect(
      await preview("--kubernetes", "1.20.15", "--source", tag20.tarball, "--sha512", tag20.sha512),
    ).toEqual({
      command: DIRECT("amd64"),
      generators: {
        run: false,
        why: "a verified 1.20 release carries its generated files; proven to give the same kubelet",
      },
    });
    expect(await preview("--kubernetes", "1.20.15", "--run-generators")).toEqual({
      command: MAKE("amd64"),
      generators: { run: true, why: "--run-generators" },
    });
    // the same tarball without a checksum to hold it to: nobody vouched that its generated files match
    expect(await preview("--kubernetes", "1.20.15", "--source", tag20.tarball)).toEqual({
      command: MAKE("amd64"),
      generators: { run: true, why: "the source was not verified against a checksum" },
    });
    expect(await preview("--kubernetes", "1.19.16")).toEqual({
      command: MAKE("amd64"),
      generators: { run: true, why: "the build without them is not proven for 1.19" },
    });
    expect(await preview("--kubernetes", "1.21.14")).toEqual({
      command: MAKE("amd64"),
      generators: { run: true, why: "recipe post-fix has no build without them" },
    });
  });
});
