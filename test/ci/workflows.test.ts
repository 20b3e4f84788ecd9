/**
 * The GitHub Actions workflows: schema-valid, least privilege, pinned actions, and every kmem-build
 * command line in them accepted by the real CLI, so a renamed flag breaks this test, not the pipeline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { execa } from "execa";
import { ROOT, cli, startMarkerServer, type MarkerServer } from "./helpers.js";
import { cliCalls, helpOptions, runBlocks, type CliCall } from "./commands.js";

// @action-validator/core is CommonJS (wasm-bindgen for Node); it validates against the SchemaStore
// GitHub workflow schema and checks job references (needs).
const { validateWorkflow } = createRequire(import.meta.url)("@action-validator/core") as {
  validateWorkflow(src: string): { errors: unknown[] };
};

const WORKFLOWS = join(ROOT, ".github/workflows");
const SCRIPTS = join(ROOT, ".github/scripts");

/** Values for the variables the workflows pass to kmem-build (set from `${{ … }}` in `env:`). */
const SAMPLES: Record<string, string> = {
  KUBERNETES: "1.20.15",
  ARCH: "amd64",
  ARCHES: "amd64 arm64",
  KUBE: "1.20.15",
  KEY_ID: "0123456789ABCDEF",
  REPO_URL: "https://yum.example.com/kmem-build",
};

type Job = {
  permissions?: Record<string, string> | string;
  strategy?: { "fail-fast"?: boolean };
  concurrency?: { group: string; "cancel-in-progress"?: boolean };
  steps?: Array<{ run?: string; uses?: string }>;
};
type Workflow = { on: Record<string, unknown>; permissions?: unknown; jobs: Record<string, Job> };

let files: Array<{ name: string; text: string; wf: Workflow }>;
let server: MarkerServer;
let tmp: string;

beforeAll(async () => {
  const names = (await readdir(WORKFLOWS)).filter((n) => /\.ya?ml$/.test(n)).sort();
  files = await Promise.all(
    names.map(async (name) => {
      const text = await readFile(join(WORKFLOWS, name), "utf8");
      return { name, text, wf: parse(text) as Workflow };
    }),
  );
  server = await startMarkerServer();
  tmp = await mkdtemp(join(tmpdir(), "kmem-workflows-"));
});
afterAll(async () => {
  await server?.close();
  await rm(tmp, { recursive: true, force: true });
});

const byName = (n: string) => files.find((f) => f.name === n)!;

describe("workflow files", () => {
  it("ci.yml and release.yml exist", () => {
    expect(files.map((f) => f.name)).toEqual(expect.arrayContaining(["ci.yml", "release.yml"]));
  });

  it("every workflow is valid against the GitHub Actions workflow schema", () => {
    for (const f of files) {
      expect({ file: f.name, errors: validateWorkflow(f.text).errors }).toEqual({ file: f.name, errors: [] });
    }
  });

  it("the validator does reject a broken workflow (negative control)", () => {
    const broken = byName("release.yml").text.replace("needs: matrix\n", "needs: matrixx\n");
    expect(validateWorkflow(broken).errors.length).toBeGreaterThan(0);
    const typo = byName("ci.yml").text.replace("runs-on:", "runs_on:");
    expect(validateWorkflow(typo).errors.length).toBeGreaterThan(0);
  });

  it("actions are pinned to full commit SHAs with the tag in a trailing comment", () => {
    for (const f of files) {
      for (const line of f.text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l))) {
        expect(line, `${f.name}: ${line.trim()}`).toMatch(
          /uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/,
        );
      }
    }
  });

  it("run: blocks take ${{ }} values only through env (no expression injection into scripts)", () => {
    for (const f of files)
      for (const b of runBlocks(f.name, f.text)) expect(b.script, b.where).not.toContain("${{");
  });

  it("least privilege: read-only everywhere, contents: write only for release.yml's publish job", () => {
    expect(byName("ci.yml").wf.permissions).toEqual({ contents: "read" });
    const rel = byName("release.yml").wf;
    expect(rel.permissions).toEqual({});
    expect(rel.jobs.matrix!.permissions).toEqual({ contents: "read" });
    expect(rel.jobs.build!.permissions).toEqual({ contents: "read" });
    expect(rel.jobs.publish!.permissions).toEqual({ contents: "write" });
    for (const f of files) {
      expect(f.text, f.name).not.toContain("write-all");
      expect(f.text.match(/:\s*write\b/g)?.length ?? 0, f.name).toBe(f.name === "release.yml" ? 1 : 0);
    }
  });

  it("ci.yml runs setup, install, lint, type-check and the test script on push and pull_request", () => {
    const { wf } = byName("ci.yml");
    expect(Object.keys(wf.on).sort()).toEqual(["pull_request", "push"]);
    const runs = Object.values(wf.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.run).filter(Boolean));
    expect(runs).toEqual([
      "sudo bash scripts/setup-system.sh",
      "npm ci",
      "npm run lint",
      "npm run typecheck",
      'sudo --preserve-env=CI env "PATH=$PATH" bash scripts/test.sh',
    ]);
  });

  it("release.yml: daily and by hand, fail-fast off, one publisher per version at a time", () => {
    const { wf } = byName("release.yml");
    expect(wf.on.schedule).toEqual([{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) }]);
    expect(wf.on.workflow_dispatch).toMatchObject({ inputs: { kubernetes: { required: false } } });
    expect(wf.jobs.build!.strategy?.["fail-fast"]).toBe(false);
    expect(wf.jobs.publish!.concurrency).toEqual({
      group: "publish-kubelet-${{ matrix.kubernetes }}",
      "cancel-in-progress": false,
    });
  });
});

describe("release.yml publishes signed packages and the CLI", () => {
  const steps = () =>
    (byName("release.yml").wf.jobs.publish!.steps ?? []) as Array<{
      name?: string;
      run?: string;
      env?: object;
    }>;
  const step = (name: string) => steps().find((s) => s.name === name)!;

  it("signs the RPMs with the release key after the check and before the repository is built", () => {
    const names = steps().map((s) => s.name);
    const order = [
      "Compare with the published release",
      "Import the signing key",
      "Sign the RPMs",
      "Build the yum repository",
      "Package the kmem-build CLI",
      "Publish the GitHub release",
    ].map((n) => names.indexOf(n));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(step("Sign the RPMs").run).toBe(
      'bash .github/scripts/sign-release.sh "$KEY_ID" "release/$KUBERNETES"',
    );
  });

  it("every repository it builds is signed (--sign-key, then packagesSigned and metadataSigned required)", () => {
    const repo = step("Build the yum repository").run!;
    const calls = cliCalls({ where: "repo", script: repo }, SAMPLES);
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls)
      expect(c.args).toEqual(expect.arrayContaining(["repo", "--sign-key", SAMPLES.KEY_ID]));
    expect(repo).toContain("jq -e '.packagesSigned and .metadataSigned' repo.json");
  });

  it("without RPM_SIGNING_KEY the job fails instead of publishing unsigned RPMs", async () => {
    const gnupg = join(tmp, "no-key");
    const r = await execa("bash", ["-eo", "pipefail", "-c", step("Import the signing key").run!], {
      reject: false,
      env: {
        RPM_SIGNING_KEY: "",
        RUNNER_TEMP: gnupg,
        GITHUB_ENV: join(tmp, "env"),
        GITHUB_OUTPUT: join(tmp, "out"),
      },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      "::error::RPM_SIGNING_KEY is not configured: refusing to publish unsigned RPMs",
    );
  });

  it("uploads the CLI tarball and its sha256 with the release", () => {
    const upload = step("Publish the GitHub release").run!;
    expect(upload).toContain('"$CLI_TGZ" "$CLI_TGZ.sha256"');
    expect(step("Package the kmem-build CLI").run).toContain("npm pack --pack-destination cli --json");
  });
});

describe("kmem-build command lines in the workflows", () => {
  let calls: CliCall[];
  const help = new Map<string, Set<string>>();

  beforeAll(async () => {
    calls = files.flatMap((f) => runBlocks(f.name, f.text).flatMap((b) => cliCalls(b, SAMPLES)));
    for (const name of (await readdir(SCRIPTS)).filter((n) => n.endsWith(".sh"))) {
      const script = await readFile(join(SCRIPTS, name), "utf8");
      calls.push(...cliCalls({ where: `.github/scripts/${name}`, script }, SAMPLES));
    }
    for (const command of new Set(calls.map((c) => c.args[0]!))) {
      const r = await cli([command, "--help"]);
      expect(r.code, `kmem-build ${command} --help: ${r.stderr}`).toBe(0);
      help.set(command, helpOptions(r.stdout));
    }
  });

  const env = () => ({ KMEM_BUILD_BASE_URL: server.url, KMEM_BUILD_CACHE_DIR: join(tmp, "cache") });

  it("the workflows call releases, build and repo", () => {
    expect(new Set(calls.map((c) => c.args[0]))).toEqual(new Set(["releases", "build", "repo"]));
  });

  it("every flag they pass is one the command accepts", () => {
    for (const c of calls) {
      const known = help.get(c.args[0]!)!;
      for (const flag of c.args.filter((a) => a.startsWith("-")).map((a) => a.split("=")[0]!)) {
        expect(
          known.has(flag),
          `${c.where}: kmem-build ${c.args[0]} has no option ${flag}\n  ${c.line}`,
        ).toBe(true);
      }
    }
  });

  it("releases: each line runs against a local marker server and prints what the step expects", async () => {
    for (const c of calls.filter((c) => c.args[0] === "releases")) {
      const r = await cli(c.args, env());
      expect(r.code, `${c.where}: ${c.line}\n${r.stderr}`).toBe(0);
      if (c.args.includes("--matrix")) {
        const m = JSON.parse(r.stdout) as { include: Array<Record<string, string>> };
        expect(m.include.length, c.where).toBeGreaterThan(0);
        for (const e of m.include) expect(Object.keys(e).sort()).toEqual(["arch", "kubernetes"]);
      }
    }
  });

  it("build: each line passes with --dry-run (the plan, no network)", async () => {
    for (const c of calls.filter((c) => c.args[0] === "build")) {
      const r = await cli([...c.args, "--dry-run"], env());
      expect(r.code, `${c.where}: ${c.line} --dry-run\n${r.stderr}`).toBe(0);
      if (c.args.includes("--json")) {
        expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, kubernetes: SAMPLES.KUBERNETES });
      }
    }
  });
});

describe("shell in the workflows", () => {
  const shellcheck = execa("shellcheck", ["--version"], { reject: false }).then((r) => r.exitCode === 0);

  it("run: blocks and .github/scripts pass shellcheck", async (ctx) => {
    if (!(await shellcheck)) ctx.skip(); // scripts/setup-system.sh installs it
    const targets: string[] = [];
    for (const f of files) {
      for (const [i, b] of runBlocks(f.name, f.text).entries()) {
        const file = join(tmp, `${f.name}.${i}.sh`);
        // GitHub runs `bash -e -o pipefail`; say so, or shellcheck guesses sh.
        await writeFile(file, `#!/usr/bin/env bash\nset -eo pipefail\n# ${b.where}\n${b.script}`);
        targets.push(file);
      }
    }
    const scripts = (await readdir(SCRIPTS)).filter((n) => n.endsWith(".sh")).map((n) => join(SCRIPTS, n));
    const r = await execa("shellcheck", ["-x", "-P", "SCRIPTDIR", "-s", "bash", ...targets, ...scripts], {
      reject: false,
    });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
