/**
 * The GitHub Actions workflows: schema-valid, least privilege, pinned actions, and every kmem-build
 * command line in them accepted by the real CLI, so a renamed flag breaks this test, not the pipeline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { execa } from "execa";
import { ROOT, cli, startMarkerServer, type MarkerServer } from "./helpers.js";
import { cliCalls, helpOptions, runBlocks, type CliCall } from "./commands.js";
import { CACHE_PATH, RELEASE_REF, SAVE_IF, cacheRuleErrors } from "./cache-rules.js";

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
  MAX_SIZE: "6G",
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
/** `cache prune` for the command with subcommands, else the command. */
const command = (c: CliCall) => (c.args[0] === "cache" ? `cache ${c.args[1]}` : c.args[0]!);

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
          /uses: [\w.-]+\/[\w.-]+(\/[\w.-]+)*@[0-9a-f]{40} # v\d+\.\d+\.\d+$/,
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

/** release.yml with its save step moved to just before "Build kubelet". */
function moveSaveBeforeBuild(text: string): string {
  const start = text.indexOf("      - name: Save the Go build cache\n");
  const end = text.indexOf("\n  publish:");
  const save = text.slice(start, end).trimEnd() + "\n";
  const without = text.slice(0, start) + text.slice(end);
  const build = without.indexOf("      - name: Build kubelet\n");
  return without.slice(0, build) + save + without.slice(build);
}

describe("release.yml keeps the Go build cache of verified sources", () => {
  type Step = { id?: string; name?: string; if?: string; uses?: string; run?: string };
  const buildSteps = () => (byName("release.yml").wf.jobs.build!.steps ?? []) as Step[];
  const script = (id: string) => buildSteps().find((s) => s.id === id)!.run!;
  const runStep = (body: string, env: Record<string, string>) =>
    execa("bash", ["-eo", "pipefail", "-c", body], { cwd: ROOT, reject: false, env });

  it("only the release build job restores and saves, through restore and save, on the release ref", () => {
    for (const f of files) expect(cacheRuleErrors(f.name, f.text), f.name).toEqual([]);
    const uses = (f: string) => f.split("\n").filter((l) => /uses: actions\/cache/.test(l));
    expect(uses(byName("ci.yml").text)).toEqual([]);
    const steps = buildSteps();
    expect(steps.filter((s) => s.uses?.startsWith("actions/cache/restore@")).length).toBe(1);
    const save = steps.filter((s) => s.uses?.startsWith("actions/cache/save@"));
    expect(save.map((s) => s.if)).toEqual([SAVE_IF]);
    for (const j of ["matrix", "publish"])
      expect(JSON.stringify(byName("release.yml").wf.jobs[j]), j).not.toContain("actions/cache");
  });

  it("the rules reject a save or prune on any ref, more than go/verified, a pull_request trigger, actions/cache, another key, a save before the build", () => {
    const rel = byName("release.yml").text;
    const bound = `        if: ${RELEASE_REF}\n`;
    const broken: Array<[string, string, RegExp]> = [
      [
        "save on any ref",
        rel.replace(`if: ${SAVE_IF}`, "if: steps.bound.outputs.save == 'true'"),
        /not only on the release ref/,
      ],
      ["save always", rel.replace(`        if: ${SAVE_IF}\n`, ""), /saves under "\(always\)"/],
      ["prune on any ref", rel.replace(bound, ""), /the bound step runs under/],
      [
        "the whole cache directory",
        rel.replaceAll(CACHE_PATH, "${{ runner.temp }}/kmem-build-cache"),
        /not only/,
      ],
      [
        "the verdicts too",
        rel.replaceAll(
          `path: ${CACHE_PATH}`,
          `path: |\n            ${CACHE_PATH}\n            \${{ runner.temp }}/kmem-build-cache/verdicts`,
        ),
        /caches verdicts/,
      ],
      [
        "run by pull requests",
        rel.replace("on:\n  schedule:", "on:\n  pull_request:\n  schedule:"),
        /run by pull requests/,
      ],
      ["actions/cache", rel.replace("actions/cache/save@", "actions/cache@"), /use restore and save/],
      [
        "a key of its own",
        rel.replace(
          "key: ${{ steps.gocache.outputs.key }}\n          restore-keys",
          "key: go-cache\n          restore-keys",
        ),
        /key go-cache is not the key step's/,
      ],
      ["saved before the build", moveSaveBeforeBuild(rel), /in that order/],
    ];
    for (const [what, text, rule] of broken) {
      expect(text, what).not.toBe(rel);
      expect(cacheRuleErrors("release.yml", text).join("\n"), what).toMatch(rule);
    }
  });

  it("the key names the Go version, minor, arch, release and run; restore-keys the newest of that Go, minor and arch", async () => {
    const key = async (kubernetes: string, arch: string) => {
      const out = join(tmp, `key-${kubernetes}-${arch}`);
      const env = join(tmp, `env-${kubernetes}-${arch}`);
      const r = await runStep(script("gocache"), {
        PATH: process.env.PATH!,
        KUBERNETES: kubernetes,
        ARCH: arch,
        GITHUB_OUTPUT: out,
        GITHUB_ENV: env,
        RUNNER_TEMP: "/runner/temp",
        GITHUB_RUN_ID: "4242",
        GITHUB_RUN_ATTEMPT: "2",
        KMEM_BUILD_CACHE_DIR: join(tmp, "cache"),
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const o = Object.fromEntries(
        (await readFile(out, "utf8"))
          .trim()
          .split("\n")
          .map((l) => l.split("=") as [string, string]),
      );
      return { ...o, env: (await readFile(env, "utf8")).trim() } as {
        key: string;
        prefix: string;
        env: string;
      };
    };
    const a = await key("1.20.15", "amd64");
    expect(a).toEqual({
      prefix: "kmem-build-go-verified-go1.15.15-1.20-amd64-",
      key: "kmem-build-go-verified-go1.15.15-1.20-amd64-1.20.15-4242-2",
      env: "KMEM_BUILD_CACHE_DIR=/runner/temp/kmem-build-cache",
    });
    expect(`${CACHE_PATH}`.replace("${{ runner.temp }}", "/runner/temp")).toBe(
      "/runner/temp/kmem-build-cache/go/verified",
    );
    const b = await key("1.20.15", "arm64");
    const c = await key("1.17.17", "amd64");
    expect(b.prefix).toBe("kmem-build-go-verified-go1.15.15-1.20-arm64-");
    expect(c.prefix).toMatch(/^kmem-build-go-verified-go1\.\d+\.\d+-1\.17-amd64-$/);
    for (const x of [a, b, c]) {
      expect(x.key.startsWith(x.prefix)).toBe(true);
      for (const y of [a, b, c]) if (x !== y) expect(y.key.startsWith(x.prefix)).toBe(false);
    }
  });

  it("the bound step prunes with kmem-build cache prune and saves only a Go cache that fits the limit", async () => {
    const fill = async (name: string) => {
      const cache = join(tmp, name);
      await mkdir(join(cache, "go", "verified", "go-build", "00"), { recursive: true });
      await writeFile(join(cache, "go", "verified", "go-build", "00", "x-d"), Buffer.alloc(3 << 20, 1));
      return cache;
    };
    const bound = async (name: string, max: string) => {
      const cache = await fill(name);
      const out = join(tmp, `bound-${name}`);
      await writeFile(out, "");
      const r = await runStep(script("bound"), {
        PATH: process.env.PATH!,
        KMEM_BUILD_CACHE_DIR: cache,
        MAX_SIZE: max,
        GITHUB_OUTPUT: out,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      return { r, out: await readFile(out, "utf8"), kept: existsSync(join(cache, "go", "verified")) };
    };
    const fits = await bound("fits", "1G");
    expect(fits.out).toBe("save=true\n");
    expect(fits.kept).toBe(true);
    const over = await bound("over", "1M");
    expect(over.out).toBe("");
    expect(over.kept).toBe(false);
    expect(over.r.stdout).toContain(
      "::notice::no Go build cache of verified sources within 1M after the prune: not saved",
    );
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
    for (const name of new Set(calls.map(command))) {
      const r = await cli([...name.split(" "), "--help"]);
      expect(r.code, `kmem-build ${name} --help: ${r.stderr}`).toBe(0);
      help.set(name, helpOptions(r.stdout));
    }
  });

  const env = () => ({ KMEM_BUILD_BASE_URL: server.url, KMEM_BUILD_CACHE_DIR: join(tmp, "cache") });

  it("the workflows call releases, build, repo and cache prune", () => {
    expect(new Set(calls.map((c) => command(c)))).toEqual(
      new Set(["releases", "build", "repo", "cache prune"]),
    );
  });

  it("every flag they pass is one the command accepts", () => {
    for (const c of calls) {
      const known = help.get(command(c))!;
      for (const flag of c.args.filter((a) => a.startsWith("-")).map((a) => a.split("=")[0]!)) {
        expect(
          known.has(flag),
          `${c.where}: kmem-build ${command(c)} has no option ${flag}\n  ${c.line}`,
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
