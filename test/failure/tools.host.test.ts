/**
 * A required tool is missing. The CLI runs with a PATH that holds only the tools
 * the case allows (symlinks in a temp bin directory). The message names the missing tool and how to
 * install it, exit 3, and it comes from preflight: nothing was downloaded, nothing written.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { serveDirectory, type TestServer } from "../helpers/http-server.js";
import { kb, tmp, removeTmp, listTree, TEST_IMAGE } from "./helpers.js";
import { imageVerdictKey } from "../../src/pipeline/steps/builder-image.js";
import { keptResultsDir } from "../../src/util/kept-results.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { recipeFor } from "../../src/recipes/resolve.js";

let example: ExampleRelease;
let server: TestServer;

beforeAll(async () => {
  example = await makeExample("tag-era", "1.20.15", await tmp("served"));
  server = await serveDirectory(example.dir);
});
afterAll(async () => {
  await server?.close();
  await removeTmp();
});

/** A bin directory holding symlinks to exactly these tools (found on the current PATH). */
async function binWith(tools: string[]): Promise<string> {
  const bin = join(await tmp("bin"), "bin");
  await mkdir(bin);
  for (const t of tools) {
    const { stdout } = await execa("sh", ["-c", `command -v ${t}`]);
    await symlink(stdout.trim(), join(bin, t));
  }
  return bin;
}

/** Runs the CLI with only `bin` on PATH (node itself is started by absolute path). */
async function withOnly(tools: string[], args: string[], env: Record<string, string> = {}) {
  const bin = await binWith(tools);
  const cache = await tmp("cache");
  const out = await tmp("out");
  const r = await kb(args.concat(args[0] === "build" ? ["--cache-dir", cache, "--out", out] : []), {
    cleanEnv: true,
    env: { PATH: bin, HOME: process.env.HOME ?? "/root", KMEM_BUILD_BASE_URL: server.url, ...env },
  });
  return { ...r, cache, out };
}

const BUILD = ["build", "--kubernetes", "1.20.15", "--arch", "amd64", "--image", TEST_IMAGE];

/** Preflight stopped it: no download, no cache entries, no work dir, nothing published. */
async function expectNoLongWork(r: { cache: string; out: string; ms: number }) {
  expect(server.hits.get("/v1.20.15/kubernetes-src.tar.gz")).toBeUndefined();
  expect(await listTree(r.cache)).toEqual([]); // not even the parent of work directories: the run made it and removed it
  expect(await readdir(r.out)).toEqual([]);
  expect(r.ms).toBeLessThan(20_000);
}

describe("build", () => {
  it("no container engine at all: exit 3, says which engines were looked for and how to install one", async () => {
    const r = await withOnly(["rpmbuild", "rpm"], BUILD);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: no container engine found (looked for podman and docker)");
    expect(r.stderr).toContain(
      "hint: apt-get install podman runc (or install docker and pass --engine docker)",
    );
    await expectNoLongWork(r);
  });

  it("--engine podman when podman is missing", async () => {
    const r = await withOnly(["rpmbuild", "rpm", "docker"], [...BUILD, "--engine", "podman"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: container engine not found: podman");
    expect(r.stderr).toMatch(/hint: apt-get install podman runc/);
    await expectNoLongWork(r);
  });

  it("--engine docker with a docker client but no daemon", async () => {
    const r = await withOnly(["rpmbuild", "rpm", "docker"], [...BUILD, "--engine", "docker"], {
      DOCKER_HOST: "unix:///nonexistent/docker.sock",
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: docker is installed but its engine does not answer");
    expect(r.stderr).toMatch(/hint: .*(Cannot connect|docker)/);
    await expectNoLongWork(r);
  });

  it("no rpmbuild: exit 3, names rpmbuild and the package to install", async () => {
    const r = await withOnly(["podman", "rpm", "patch"], BUILD);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: missing tool needed to build Kubernetes 1.20.15 as asked: rpmbuild");
    expect(r.stderr).toContain(
      "hint: rpmbuild: apt-get install rpm (Debian/Ubuntu) or dnf install rpm-build",
    );
    await expectNoLongWork(r);
  });

  it("several tools missing are named together", async () => {
    const r = await withOnly(["podman"], [...BUILD, "--sign-key", "someone@example.invalid"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(
      "missing tools needed to build Kubernetes 1.20.15 as asked: rpmbuild, rpm, gpg, rpmsign",
    );
    expect(r.stderr).toContain("gpg: apt-get install gnupg");
    await expectNoLongWork(r);
  });

  it("--no-rpm needs no rpmbuild (preflight asks only for what this build uses)", async () => {
    const r = await withOnly(["podman"], [...BUILD, "--no-rpm", "--dry-run"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("no gpg when signing is asked: exit 3 before anything else", async () => {
    const r = await withOnly(
      ["podman", "rpmbuild", "rpm", "rpmsign"],
      [...BUILD, "--sign-key", "someone@example.invalid"],
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: missing tool needed to build Kubernetes 1.20.15 as asked: gpg");
    expect(r.stderr).toContain("hint: gpg: apt-get install gnupg");
    await expectNoLongWork(r);
  });

  it("a patch-era build without patch(1)", async () => {
    const r = await withOnly(
      ["podman"],
      ["build", "--kubernetes", "1.13.12", "--arch", "amd64", "--no-rpm", "--image", TEST_IMAGE],
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("missing tool needed to build Kubernetes 1.13.12 as asked: patch");
    expect(r.stderr).toContain("hint: patch: apt-get install patch");
  });
});

/** An image with a shell and nothing the Kubernetes build needs (busybox only, no applet links). */
async function bareImage(): Promise<string> {
  const ref = "localhost/kmem-build-test-bare:1";
  if ((await execa("podman", ["image", "exists", ref], { reject: false })).exitCode === 0) return ref;
  const root = await tmp("bare-rootfs");
  await mkdir(join(root, "bin"));
  await execa("cp", ["/bin/busybox", join(root, "bin", "busybox")]);
  await symlink("busybox", join(root, "bin", "sh"));
  await execa("sh", ["-c", `tar -C "${root}" -c . | podman import - ${ref}`]);
  return ref;
}

/** An amd64 build of the example release 1.20.15 with this builder image, no RPM. */
const buildWith = (image: string, cache: string, out: string) =>
  kb(
    ["build", "--kubernetes", "1.20.15", "--arch", "amd64", "--no-rpm", "--image", image].concat([
      "--cache-dir",
      cache,
      "--out",
      out,
    ]),
    { env: { KMEM_BUILD_BASE_URL: server.url } },
  );

describe("builder image", () => {
  it("an image without the build's tools: exit 3 before compiling, naming the tools, the image and the fix", async () => {
    const image = await bareImage();
    const cache = await tmp("cache");
    const out = await tmp("out");
    const r = await buildWith(image, cache, out);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(`error: the builder image ${image} \\(--image\\) has no go, make, bash, rsync`),
    );
    expect(r.stderr).toContain("hint: use the tree's kube-cross image (the default)");
    expect(r.stderr).toContain("scripts/build-image.sh --go 1.15");
    expect(r.stderr).not.toMatch(/compile amd64/);
    expect(r.ms).toBeLessThan(30_000);
    expect(await readdir(out)).toEqual([]);
  });
});

describe("builder image tool check kept by image ID", () => {
  const needs = async () => recipeFor("1.20.15", await loadRecipes()).build.needs;
  const imageId = async (ref: string) =>
    (await execa("podman", ["image", "inspect", "--format", "{{.Id}}", ref])).stdout.trim();
  const log = (out: string) => readFile(join(out, "1.20.15", "build.log"), "utf8");
  const KEPT = /tool check kept for this image ID, reused/;

  it("is made once per image ID and reused by the next build; an image lacking tools is never kept", async () => {
    const cache = await tmp("cache");
    const out = await tmp("out");
    const first = await buildWith(TEST_IMAGE, cache, out);
    expect(first.code, first.stderr).toBe(0);
    expect(await log(out)).not.toMatch(KEPT);
    const second = await buildWith(TEST_IMAGE, cache, out);
    expect(second.code, second.stderr).toBe(0);
    expect(await log(out)).toMatch(KEPT);
    const key = imageVerdictKey("podman", await imageId(TEST_IMAGE), await needs());
    expect(await readdir(join(keptResultsDir(cache), "image-tools"))).toEqual([`${key}.json`]);

    const bare = await bareImage();
    for (let i = 0; i < 2; i++) expect((await buildWith(bare, cache, await tmp("out"))).code).toBe(3);
    expect(await readdir(join(keptResultsDir(cache), "image-tools"))).toEqual([`${key}.json`]);
  });

  it("a forged verdict for an image lacking tools is not trusted: the check runs and refuses it", async () => {
    const cache = await tmp("cache");
    const out = await tmp("out");
    expect((await buildWith(TEST_IMAGE, cache, out)).code).toBe(0); // a key and one genuine verdict
    const dir = join(keptResultsDir(cache), "image-tools");
    const [name] = await readdir(dir);
    const genuine = JSON.parse(await readFile(join(dir, name!), "utf8")) as Record<string, unknown>;
    const bare = await bareImage();
    const bareKey = imageVerdictKey("podman", await imageId(bare), await needs());
    for (const forged of [
      { kind: "image-tools", key: bareKey, value: { missing: [] }, mac: "ab".repeat(32) },
      { ...genuine, key: bareKey },
      genuine,
    ]) {
      await writeFile(join(dir, `${bareKey}.json`), JSON.stringify(forged));
      const r = await buildWith(bare, cache, await tmp("out"));
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/has no go, make, bash, rsync/);
    }
  });
});

describe("repo", () => {
  it("no createrepo_c: exit 3, names it and how to install it, writes nothing", async () => {
    const from = await tmp("from");
    const out = join(await tmp("repo"), "repo");
    const r = await withOnly(["rpm", "gpg"], ["repo", "--from", from, "--out", out]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("error: missing tool needed to build the yum repository: createrepo_c");
    expect(r.stderr).toContain(
      "hint: createrepo_c: apt-get install createrepo-c (Debian/Ubuntu) or dnf install createrepo_c",
    );
    expect(await readdir(join(out, ".."))).toEqual([]);
  });
});

describe("verify", () => {
  it("--ssh without an ssh client: exit 3, names ssh", async () => {
    const r = await withOnly(["sh"], ["verify", "--ssh", "root@127.0.0.1", "--quiet"]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("missing tool needed to verify nodes over ssh: ssh");
    expect(r.stderr).toContain("ssh: apt-get install openssh-client");
  });
});
