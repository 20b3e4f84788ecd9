/**
 * The source that is hashed is the source that is built, and the caches give back only what was
 * put in: attacks by whoever can write the --source file, the cache directory or the builder
 * image's tag, each through the real CLI with real podman builds of the example tree, and what the
 * build now does instead. docs/trust-model.md names these tests.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { appendFile, copyFile, cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { renameSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { makeExample, type ExampleRelease } from "../helpers/example.js";
import { tarGz, MINIMAL_TREE } from "../helpers/tarball.js";
import { archiveVerdictKey } from "../../src/pipeline/steps/check-source.js";
import { imageFilesOf } from "../../src/pipeline/steps/builder-image.js";
import { keepResult, sealKept, keptResultsDir } from "../../src/util/kept-results.js";
import { scriptletsOfSpec } from "../../src/package/rpm-contents.js";
import { loadRecipes } from "../../src/recipes/load.js";
import { recipeFor } from "../../src/recipes/resolve.js";
import {
  kb,
  start,
  finish,
  tmp,
  removeTmp,
  buildArgs,
  descendants,
  waitFor,
  REPO,
  TEST_IMAGE,
  type RunOpts,
} from "./helpers.js";

const VERSION = "1.20.15";
const tag = randomBytes(4).toString("hex");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sha512 = (b: Buffer) => createHash("sha512").update(b).digest("hex");
const has = async (file: string, marker: string) => (await readFile(file)).includes(Buffer.from(marker));

let example: ExampleRelease;
/** The same release with one more file in cmd/kubelet: its binary carries SWAPPED_MARKER. */
let swappedTarball: string;
const SWAPPED_MARKER = `SWAPPED-TREE-${tag}`;

/** A --source tarball build of the example (amd64), with this cache and output directory. */
function build(cache: string, out: string, source: string, extra: string[] = [], o: RunOpts = {}) {
  return kb(
    buildArgs(cache, out, "--kubernetes", VERSION, "--arch", "amd64", "--source", source, ...extra),
    o,
  );
}

const json = (r: { stdout: string }) =>
  JSON.parse(r.stdout) as { compiled: string[]; cached: string[]; notices: string[] };
/** The notices of a --json build, one per line (what a build without --json prints as `notice: …`). */
const notices = (r: { stdout: string }) => json(r).notices.join("\n");

/** The one entry under <cache>/<dir>/ (one content key) and the file it holds. */
async function keptFile(cache: string, dir: string): Promise<{ key: string; file: string }> {
  const keys = await readdir(join(cache, dir));
  expect(keys).toHaveLength(1);
  const [name] = await readdir(join(cache, dir, keys[0]!));
  return { key: keys[0]!, file: join(cache, dir, keys[0]!, name!) };
}

/** An extracted example tree (directory) at `dir`. */
async function exampleTreeAt(dir: string): Promise<string> {
  await makeExample("tag-era", VERSION, await tmp("tree-pub"), ["--tree", dir]);
  return dir;
}

beforeAll(async () => {
  example = await makeExample("tag-era", VERSION, await tmp("served"));
  // The swapped-in archive: a valid tree of the same release, with code of someone else's.
  const tree = await exampleTreeAt(join(await tmp("swapped"), "tree"));
  await writeFile(
    join(tree, "cmd", "kubelet", "swapped.go"),
    `package main\n\nimport "os"\n\nfunc init() {\n\tif len(os.Args) > 99 {\n\t\tprintln("${SWAPPED_MARKER}")\n\t}\n}\n`,
  );
  swappedTarball = join(await tmp("swapped-tar"), "kubernetes-src.tar.gz");
  await execa("tar", ["-C", tree, "--owner=0", "--group=0", "-czf", swappedTarball, "."]);
});

afterAll(removeTmp);

describe("the --source file is hashed and built from one private copy", () => {
  it("a --source file swapped right after its sha512 was verified: the verified archive is built, shipped and cached", async () => {
    const dir = await tmp("swap-src");
    const source = join(dir, "kubernetes-src.tar.gz");
    await copyFile(example.tarball, source);
    const other = join(dir, ".other.tar.gz");
    await copyFile(swappedTarball, other);
    const cache = await tmp("swap-cache");
    const out = await tmp("swap-out");
    const args = ["--kubernetes", VERSION, "--arch", "amd64", "--source", source, "--sha512", example.sha512];
    const p = start(buildArgs(cache, out, ...args, "--no-rpm"));
    // The swap happens between steps: the CLI is stopped as soon as it says the file is verified,
    // the file is replaced (a rename, as its owner or its directory's owner may), and it goes on.
    let said = "";
    let swapped = false;
    p.stderr!.on("data", (chunk: Buffer) => {
      said += chunk.toString();
      if (!swapped && said.includes("local tarball verified (sha512)")) {
        process.kill(p.pid!, "SIGSTOP");
        renameSync(other, source);
        swapped = true;
        process.kill(p.pid!, "SIGCONT");
      }
    });
    const r = await finish(p);
    expect(swapped).toBe(true);
    expect(sha512(await readFile(source))).not.toBe(example.sha512); // the file was swapped
    expect(r.code, r.stderr).toBe(0);
    const shipped = join(out, VERSION, "kubelet-linux-amd64");
    expect(await has(shipped, `v${VERSION}`)).toBe(true);
    expect(await has(shipped, SWAPPED_MARKER)).toBe(false);
    const manifest = JSON.parse(await readFile(join(out, VERSION, "manifest.json"), "utf8"));
    expect(manifest.source.sha512).toBe(example.sha512);
    // What the cache files under the genuine sha512 is the genuine tree's binary ...
    expect(await has((await keptFile(cache, "binaries")).file, SWAPPED_MARKER)).toBe(false);
    // ... and the swapped file, named again with the genuine checksum, is refused.
    const again = await build(cache, await tmp("swap-out2"), source, [
      "--sha512",
      example.sha512,
      "--no-rpm",
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/sha512 mismatch for .*kubernetes-src\.tar\.gz/);
  });

  it("a FIFO given as --source is refused at once (exit 2), not waited on", async () => {
    const fifo = join(await tmp("fifo-src"), "kubernetes-src.tar.gz");
    await execa("mkfifo", [fifo]);
    const r = await build(await tmp("fifo-cache"), await tmp("fifo-out"), fifo, ["--no-rpm"], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--source .*kubernetes-src\.tar\.gz is a FIFO, not a regular file or a directory/,
    );
  });
});

/** One cache for the kept-binary and kept-RPM tests (the RPM test reuses the binary kept before it). */
let keptCache: string;

describe("a kept kubelet is reused only when it is what was put in", () => {
  beforeAll(async () => {
    keptCache = await tmp("kept-cache");
  });

  it("trusted reuse compiles nothing; a planted binary with the marker strings is not shipped; a FIFO there is not waited on", async () => {
    const cache = keptCache;
    const first = await build(cache, await tmp("bin-out"), example.tarball, [
      "--sha512",
      example.sha512,
      "--no-rpm",
      "--json",
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(json(first).compiled).toEqual(["amd64"]);
    const out2 = await tmp("bin-out");
    const second = await build(cache, out2, example.tarball, [
      "--sha512",
      example.sha512,
      "--no-rpm",
      "--json",
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(json(second)).toMatchObject({ compiled: [], cached: ["amd64"] });
    expect(notices(second)).not.toMatch(/was not reused/);
    const genuine = await readFile(join(out2, VERSION, "kubelet-linux-amd64"));

    // The plant: a static binary with every string inspection looks for (the genuine one plus a
    // payload of the planter's), in place of the kept one.
    const { file: kept } = await keptFile(cache, "binaries");
    const plant = `PLANTED-BINARY-${tag}`;
    await appendFile(kept, plant);
    const out3 = await tmp("bin-out");
    const third = await build(cache, out3, example.tarball, [
      "--sha512",
      example.sha512,
      "--no-rpm",
      "--json",
    ]);
    expect(third.code, third.stderr).toBe(0);
    expect(json(third).compiled).toEqual(["amd64"]);
    expect(notices(third)).toMatch(
      /the cached kubelet for amd64 \(.*\/binaries\/[0-9a-f]{64}\/kubelet\) was not reused: its sha256 [0-9a-f]{16}… is not the [0-9a-f]{16}… sealed when it was kept; made again/,
    );
    const shipped = await readFile(join(out3, VERSION, "kubelet-linux-amd64"));
    expect(shipped.includes(Buffer.from(plant))).toBe(false);
    expect(sha256(shipped)).toBe(sha256(genuine));
    expect(await readFile(join(out3, VERSION, "SHA256SUMS"), "utf8")).toContain(
      `${sha256(genuine)}  kubelet-linux-amd64`,
    );
    expect(await readFile(join(out3, VERSION, "build.log"), "utf8")).toMatch(
      /the cached kubelet for amd64 .* was not reused/,
    );

    // The binary compiled again is kept and sealed anew: trusted reuse is back.
    const fourth = await build(cache, await tmp("bin-out"), example.tarball, [
      "--sha512",
      example.sha512,
      "--no-rpm",
      "--json",
    ]);
    expect(json(fourth)).toMatchObject({ compiled: [], cached: ["amd64"] });

    // A FIFO where the kubelet is kept: not opened blocking, not reused.
    await rm(kept);
    await execa("mkfifo", [kept]);
    const fifo = await build(
      cache,
      await tmp("bin-out"),
      example.tarball,
      ["--sha512", example.sha512, "--no-rpm", "--json"],
      {
        timeoutMs: 300_000,
      },
    );
    expect(fifo.code, fifo.stderr).toBe(0);
    expect(json(fifo).compiled).toEqual(["amd64"]);
    expect(notices(fifo)).toMatch(/the cached kubelet for amd64 .* was not reused: it is a FIFO; made again/);
  });
});

describe("a kept RPM is reused only when it is what was put in and holds the binary shipped", () => {
  /** An RPM named like ours with no files and a %post scriptlet. */
  async function plantedRpm(name: string, marker: string): Promise<string> {
    const top = await tmp("plant-rpm");
    const [, version, release] = /^kubelet-([^-]+)-(.+)\.x86_64\.rpm$/.exec(name)!;
    await mkdir(join(top, "SPECS"), { recursive: true });
    const spec = join(top, "SPECS", "kubelet.spec");
    await writeFile(
      spec,
      [
        "Name: kubelet",
        `Version: ${version}`,
        `Release: ${release}`,
        "Summary: planted",
        "License: none",
        "%description",
        "planted",
        "%post",
        `echo ${marker} > /tmp/${marker}`,
        "%files",
        "",
      ].join("\n"),
    );
    await execa("rpmbuild", ["-bb", "--target", "x86_64", "--define", `_topdir ${top}`, spec]);
    return join(top, "RPMS", "x86_64", name);
  }

  it("trusted reuse says cached; a planted RPM with no files and a %post is not shipped, with or without a valid seal, and kmem-build repo gets only the genuine one", async () => {
    const cache = keptCache; // its kubelet is kept already: only the RPM is made
    const sealed = ["--sha512", example.sha512, "--json"];
    expect((await build(cache, await tmp("rpm-out"), example.tarball, sealed)).code).toBe(0);
    const out2 = await tmp("rpm-out");
    const second = await build(cache, out2, example.tarball, sealed);
    expect(second.code, second.stderr).toBe(0);
    expect(await readFile(join(out2, VERSION, "build.log"), "utf8")).toMatch(
      /\[rpm amd64\] .*cached for these exact inputs/,
    );
    const { key, file: kept } = await keptFile(cache, "rpms");
    const name = kept.slice(kept.lastIndexOf("/") + 1);
    const marker = `PLANTED-POST-${tag}`;
    const planted = await plantedRpm(name, marker);

    const shippedOk = async (out: string) => {
      const rpm = join(out, VERSION, name);
      const binary = sha256(await readFile(join(out, VERSION, "kubelet-linux-amd64")));
      const dump = (await execa("rpm", ["-qp", "--dump", rpm])).stdout;
      expect(dump).toMatch(new RegExp(`^/usr/bin/kubelet \\d+ \\d+ ${binary} `, "m"));
      const scripts = (await execa("rpm", ["-qp", "--scripts", rpm])).stdout;
      expect(scripts).not.toContain(marker);
      const sums = await readFile(join(out, VERSION, "SHA256SUMS"), "utf8");
      expect(sums).toContain(`${sha256(await readFile(rpm))}  ${name}`);
    };

    // Planted without the cache's key: its bytes are not the ones sealed.
    await copyFile(planted, kept);
    const out3 = await tmp("rpm-out");
    const third = await build(cache, out3, example.tarball, sealed);
    expect(third.code, third.stderr).toBe(0);
    expect(notices(third)).toMatch(
      new RegExp(
        `the cached RPM ${name.replaceAll(".", "\\.")} \\(.*\\) was not reused: its sha256 [0-9a-f]{16}… is not the [0-9a-f]{16}… sealed when it was kept; made again`,
      ),
    );
    await shippedOk(out3);

    // Planted and sealed with the cache's own key (a stolen key, or a tool bug): what the RPM
    // holds is still checked, and it is refused for that.
    await copyFile(planted, kept);
    expect(await sealKept(cache, "kept-rpm", key, sha256(await readFile(planted)))).toBe(true);
    const out4 = await tmp("rpm-out");
    const fourth = await build(cache, out4, example.tarball, sealed);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(notices(fourth)).toMatch(
      /was not reused: it holds no \/usr\/bin\/kubelet; its POSTIN scriptlet is not the one kubelet\.spec\.in makes/,
    );
    await shippedOk(out4);

    // The repository is made of what the build shipped: the genuine RPM, not the plant.
    const repo = join(await tmp("rpm-repo"), "repo");
    const r = await kb(["repo", "--from", out4, "--out", repo, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const inRepo = (await execa("find", [repo, "-name", "*.rpm"])).stdout.split("\n").filter(Boolean);
    expect(inRepo).toHaveLength(1);
    expect((await execa("rpm", ["-qp", "--scripts", inRepo[0]!])).stdout).not.toContain(marker);
    expect((await execa("rpm", ["-qpl", inRepo[0]!])).stdout).toContain("/usr/bin/kubelet");
  });

  it("what kubelet.spec.in's scriptlets are read as matches the RPM rpmbuild makes of it", async () => {
    const want = scriptletsOfSpec(await readFile(join(REPO, "templates", "kubelet.spec.in"), "utf8"));
    expect(
      Object.entries(want)
        .filter(([, v]) => v !== "(none)")
        .map(([k]) => k)
        .sort(),
    ).toEqual(["POSTIN", "POSTINPROG", "POSTUN", "POSTUNPROG", "PREUN", "PREUNPROG"]);
    expect(want.POSTIN).toMatch(/^if command -v systemctl/);
  });
});

describe("the Go build cache of a --source directory is named by its content", () => {
  it("two different trees built one after the other at the same path get different Go build caches", async () => {
    const at = join(await tmp("same-path"), "kubernetes");
    const trusted = await exampleTreeAt(join(await tmp("trees"), "trusted"));
    const hostile = await exampleTreeAt(join(await tmp("trees"), "hostile"));
    const planted = `planted-by-hostile-tree-${tag}`;
    const makefile = join(hostile, "Makefile");
    await writeFile(
      makefile,
      (await readFile(makefile, "utf8")).replace(
        "all:\n",
        () =>
          `all:\n\techo hostile > "$$GOCACHE/${planted}" && mkdir -p "$$GOCACHE/ff" && echo x > "$$GOCACHE/ff/${planted}-a"\n`,
      ),
    );
    const cache = await tmp("go-cache");
    const digestOf = async (out: string) =>
      /source directory content digest \(of the copy built\): sha256 ([0-9a-f]{64})/.exec(
        await readFile(join(out, VERSION, "build.log"), "utf8"),
      )![1]!;
    const outs: string[] = [];
    for (const tree of [trusted, hostile, trusted]) {
      await rm(at, { recursive: true, force: true });
      await cp(tree, at, { recursive: true, verbatimSymlinks: true });
      const out = await tmp("go-out");
      const r = await build(cache, out, at, ["--no-rpm", "--rebuild", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      outs.push(out);
    }
    const goCaches = join(cache, "go");
    expect(await readdir(goCaches)).toHaveLength(2); // one per content, not one per path
    const found = (await execa("find", [goCaches, "-name", `${planted}*`])).stdout
      .split("\n")
      .filter(Boolean);
    expect(found).toHaveLength(2); // the attack ran, into the hostile tree's own cache only
    const digests = await Promise.all(outs.map(digestOf));
    expect(digests[0]).toBe(digests[2]);
    expect(digests[1]).not.toBe(digests[0]);
    expect((await readdir(goCaches)).sort()).toEqual(
      [`dir-${digests[0]!.slice(0, 32)}`, `dir-${digests[1]!.slice(0, 32)}`].sort(),
    );
    for (const f of found)
      expect(f.startsWith(join(goCaches, `dir-${digests[1]!.slice(0, 32)}/`))).toBe(true);
  });
});

describe("the builder image is run by the ID that was checked", () => {
  const checkedRef = `localhost/kmem-build-custody-${tag}:checked`;
  const hostileRef = `localhost/kmem-build-custody-${tag}:hostile`;
  afterAll(async () => {
    // Only the names this test made: the tag (on whichever image it points at), then the hostile image.
    await execa("podman", ["rmi", checkedRef], { reject: false });
    await execa("podman", ["rmi", hostileRef], { reject: false });
  });

  it("a tag re-pointed between the tool check and the compile: the checked image compiles, the other never runs", async () => {
    const id = async (ref: string) =>
      (await execa("podman", ["image", "inspect", "--format", "{{.Id}}", ref])).stdout.trim();
    const ctxDir = await tmp("hostile-image");
    await writeFile(
      join(ctxDir, "Containerfile"),
      `FROM ${TEST_IMAGE}\nRUN m=$(command -v make) && printf '#!/bin/sh\\necho HOSTILE-IMAGE-RAN-${tag}\\nexit 97\\n' > "$m" && chmod 0755 "$m"\n`,
    );
    await execa("podman", [
      "build",
      "--pull=never",
      "--network",
      "none",
      "-t",
      hostileRef,
      "-f",
      join(ctxDir, "Containerfile"),
      ctxDir,
    ]);
    await execa("podman", ["tag", TEST_IMAGE, checkedRef]);
    const genuineId = await id(TEST_IMAGE);
    const hostileId = await id(hostileRef);
    expect(hostileId).not.toBe(genuineId);

    const cache = await tmp("img-cache"); // no kept tool check: the check runs in a container
    const out = await tmp("img-out");
    const p = start([
      "build",
      "--engine",
      "podman",
      "--image",
      checkedRef,
      "--cache-dir",
      cache,
      "--out",
      out,
      "--kubernetes",
      VERSION,
      "--arch",
      "amd64",
      "--source",
      example.tarball,
      "--sha512",
      example.sha512,
      "--no-rpm",
    ]);
    // Stop the CLI while its tool-check container runs; once that container is done, re-point
    // the tag, and let the CLI go on to the compile.
    const probe = await waitFor("the tool check container", async () =>
      (await descendants(p.pid!)).find((d) => d.args.includes("--entrypoint")),
    );
    process.kill(p.pid!, "SIGSTOP");
    await waitFor(
      "the tool check to finish",
      async () => !(await descendants(p.pid!)).some((d) => d.pid === probe.pid && d.args.length),
      120_000,
    );
    await execa("podman", ["tag", hostileRef, checkedRef]);
    expect(await id(checkedRef)).toBe(hostileId);
    process.kill(p.pid!, "SIGCONT");
    const r = await finish(p);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain("HOSTILE-IMAGE-RAN");
    const log = await readFile(join(out, VERSION, "build.log"), "utf8");
    expect(log).toContain(`$ podman run ${genuineId} (${checkedRef})`);
    const manifest = await readFile(join(out, VERSION, "manifest.json"), "utf8");
    expect(manifest).toContain(genuineId);
    expect(manifest).not.toContain(hostileId);
  });
});

describe("a FIFO planted in the cache does not hang the build", () => {
  const hostile = tarGz([...MINIMAL_TREE, { path: "../evil", body: "x" }]);
  const REFUSED = /refusing .*: entry "\.\.\/evil" points outside the extraction directory/;

  async function hostileSource(): Promise<{ file: string; sha: string }> {
    const file = join(await tmp("fifo-hostile"), "kubernetes-src.tar.gz");
    await writeFile(file, hostile);
    return { file, sha: sha512(hostile) };
  }

  it("a FIFO at the verdict key path (<cache>/verdicts/hmac.key): check source runs and refuses the archive (exit 2)", async () => {
    const cache = await tmp("fifo-key");
    await mkdir(keptResultsDir(cache), { recursive: true, mode: 0o700 });
    await execa("mkfifo", ["-m", "0600", join(keptResultsDir(cache), "hmac.key")]);
    const { file, sha } = await hostileSource();
    const r = await build(cache, await tmp("fifo-out"), file, ["--sha512", sha, "--no-rpm"], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(REFUSED);
  });

  it("a FIFO at the archive's verdict file, with a genuine key: check source runs and refuses the archive (exit 2)", async () => {
    const cache = await tmp("fifo-verdict");
    const { file, sha } = await hostileSource();
    const recipe = recipeFor(VERSION, await loadRecipes());
    const key = archiveVerdictKey(sha, imageFilesOf(recipe));
    expect(await keepResult(cache, "archive-scan", key, { planted: true })).toBe(true); // makes the key
    const verdict = join(keptResultsDir(cache), "archive-scan", `${key}.json`);
    await rm(verdict);
    await execa("mkfifo", ["-m", "0600", verdict]);
    const r = await build(cache, await tmp("fifo-out"), file, ["--sha512", sha, "--no-rpm"], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(REFUSED);
  });
});
