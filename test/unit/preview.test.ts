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
const MAKE = (arch: string) =>
  `make WHAT=cmd/kubelet GOFLAGS=-tags=nokmem KUBE_STATIC_OVERRIDES=kubelet KUBE_BUILD_PLATFORMS=linux/${arch} KUBE_GIT_VERSION_FILE=/go/src/k8s.io/kubernetes/.kmem-build/version.env`;

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
        `  amd64: ${MAKE("amd64")}`,
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
});
