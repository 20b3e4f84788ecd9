/**
 * The CLI package release.yml publishes: its "Package the kmem-build CLI" step, run as written on a
 * copy of the checkout, gives an `npm pack` tarball and a .sha256 that checks; `npm i -g` of that
 * tarball installs a `kmem-build` that runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cp, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { execa } from "execa";
import { ROOT } from "./helpers.js";

type Steps = Array<{ name?: string; run?: string }>;
let tmp: string;
let checkout: string;
let pkg: { version: string; files: string[]; engines: { node: string } };

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "kmem-cli-package-"));
  checkout = join(tmp, "checkout");
  pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as typeof pkg;
  // What `npm pack` reads from the workflow's checkout after `npm ci` and `npm run build`.
  for (const f of ["package.json", "README.md", ...pkg.files])
    await cp(join(ROOT, f), join(checkout, f), { recursive: true });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("the CLI package published with each release", () => {
  it("packs with release.yml's own step, installs with npm i -g, and `kmem-build --version` runs", async (ctx) => {
    const wf = parse(await readFile(join(ROOT, ".github/workflows/release.yml"), "utf8")) as {
      jobs: { publish: { steps: Steps } };
    };
    const step = wf.jobs.publish.steps.find((s) => s.name === "Package the kmem-build CLI");
    expect(step?.run).toBeDefined();
    const githubEnv = join(tmp, "github-env");
    const packed = await execa("bash", ["-eo", "pipefail", "-c", step!.run!], {
      cwd: checkout,
      env: { GITHUB_ENV: githubEnv },
      reject: false,
    });
    expect(packed.exitCode, packed.stderr).toBe(0);
    const tgz = `kmem-build-${pkg.version}.tgz`;
    expect((await readdir(join(checkout, "cli"))).sort()).toEqual([tgz, `${tgz}.sha256`, "pack.json"].sort());
    expect(await readFile(githubEnv, "utf8")).toBe(`CLI_TGZ=cli/${tgz}\n`);
    const check = await execa("sha256sum", ["--check", "--strict", `${tgz}.sha256`], {
      cwd: join(checkout, "cli"),
      reject: false,
    });
    expect(check.stdout).toBe(`${tgz}: OK`);

    // The package carries what the CLI reads at run time, and nothing of the tests.
    const list = await execa("tar", ["-tzf", join(checkout, "cli", tgz)]);
    const entries = list.stdout.split("\n");
    for (const f of [
      "package/lib/cli.js",
      "package/scripts/verify-kmem.sh",
      "package/templates/kubelet.spec.in",
    ])
      expect(entries).toContain(f);
    expect(entries.filter((e) => e.startsWith("package/test/") || e.startsWith("package/src/"))).toEqual([]);

    const prefix = join(tmp, "prefix");
    const install = await execa(
      "npm",
      [
        "i",
        "-g",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        join(checkout, "cli", tgz),
      ],
      { reject: false },
    );
    // Offline: the dependencies come from npm's cache (filled by `npm ci`). A user whose cache is
    // empty (scripts/test-fast-unprivileged.sh runs as a fresh user without network) cannot install.
    if (install.exitCode !== 0 && /ENOTCACHED/.test(install.stderr)) ctx.skip();
    expect(install.exitCode, install.stderr).toBe(0);
    const bin = join(prefix, "bin", "kmem-build");
    const version = await execa(bin, ["--version"], { reject: false });
    expect(version.exitCode, version.stderr).toBe(0);
    expect(version.stdout).toBe(pkg.version);
    // The installed CLI finds its own data (the recipes) outside the checkout.
    const recipes = await execa(bin, ["recipes"], { reject: false, cwd: tmp });
    expect(recipes.exitCode, recipes.stderr).toBe(0);
    expect(recipes.stdout).toMatch(/^>=1\.14\.0 <1\.21\.2\s+tag-era/m);
  });

  it("declares the Node it needs, as the README says", async () => {
    expect(pkg.engines.node).toBe(">=20.19");
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const top = readme.split("\n").slice(0, 20).join("\n");
    expect(top).toContain("npm i -g ./kmem-build-");
    expect(top).toContain("Node ≥ 20.19");
    expect(top).toContain("verify --ssh");
  });
});
