import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { appendFile, copyFile, cp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { Ajv } from "ajv";
import { run } from "../../src/exec.js";
import { exitCodeOf, UsageError } from "../../src/errors.js";
import { buildRpm } from "../../src/package/rpm.js";
import { sha256File, writeSha256Sums } from "../../src/package/checksums.js";
import { signRpms } from "../../src/package/sign.js";
import { buildRepo, renderRepoFile } from "../../src/package/repo.js";
import { registerRepo } from "../../src/commands/repo.js";
import { removeTempDirs, SDE, standInKubelet, stopAgent, tempDir, throwawayKey } from "./helpers.js";

let dist: string;
// The end-to-end CLI check needs `npm run build` (npm test does it) and the other commands to exist.
const cli = resolve("lib/cli.js");
const cliWorks = await run("node", [cli, "repo", "--help"], { allowFailure: true }).then(
  (r) => r.exitCode === 0,
  () => false,
);
let key: Awaited<ReturnType<typeof throwawayKey>>;

/** dist/<version>/ with one RPM per arch and a SHA256SUMS, as a build leaves it. */
async function buildOutput(
  root: string,
  version: string,
  arches: ("amd64" | "arm64")[],
  epoch: number,
): Promise<string> {
  const dir = join(root, version);
  const files: string[] = [];
  for (const arch of arches) {
    const work = await tempDir("repo-work");
    const built = await buildRpm({
      version,
      release: "2.nokmem",
      arch,
      binary: await standInKubelet(work, version),
      sourceDateEpoch: epoch,
      workDir: work,
      outDir: dir,
    });
    files.push(built.file);
  }
  await writeSha256Sums(dir, files);
  return dir;
}

interface PrimaryPackage {
  name: string;
  arch: string;
  version: string;
  release: string;
  sha256: string;
  href: string;
}

/** The fields we check from repodata/*-primary.xml.gz (createrepo_c's fixed, regular layout). */
async function readPrimary(repo: string): Promise<PrimaryPackage[]> {
  const repomd = await readFile(join(repo, "repodata", "repomd.xml"), "utf8");
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1]!;
  const xml = gunzipSync(await readFile(join(repo, href))).toString("utf8");
  const count = Number(/<metadata [^>]*packages="(\d+)"/.exec(xml)![1]);
  const pkgs = [...xml.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)].map(([, body]) => {
    const get = (re: RegExp) => re.exec(body!)?.[1] ?? "";
    return {
      name: get(/<name>([^<]*)<\/name>/),
      arch: get(/<arch>([^<]*)<\/arch>/),
      version: get(/<version [^>]*ver="([^"]*)"/),
      release: get(/<version [^>]*rel="([^"]*)"/),
      sha256: get(/<checksum type="sha256" pkgid="YES">([0-9a-f]{64})<\/checksum>/),
      href: get(/<location href="([^"]+)"/),
    };
  });
  expect(pkgs).toHaveLength(count);
  return pkgs;
}

async function filesUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath, e.name);
      out.set(p.slice(dir.length + 1), await sha256File(p));
    }
  }
  return out;
}

beforeAll(async () => {
  dist = join(await tempDir("dist"), "dist");
  await buildOutput(dist, "1.20.15", ["amd64", "arm64"], SDE);
  await buildOutput(dist, "1.19.16", ["amd64"], SDE + 3600);
  key = await throwawayKey();
});
afterAll(async () => {
  await stopAgent(key.home);
  await removeTempDirs();
});

describe("buildRepo", () => {
  it("lays out one repository per Kubernetes minor, each listing its packages with the verified checksums", async () => {
    const out = join(await tempDir("repo"), "repo");
    const r = await buildRepo({ from: [dist], out, baseUrl: "https://repo.example.com/kmem/" });
    expect(r.layout).toBe("minor");
    expect(r.revision).toBe(SDE + 3600);
    expect(r.packages.map((p) => p.file)).toEqual([
      "1.19/Packages/kubelet-1.19.16-2.nokmem.x86_64.rpm",
      "1.20/Packages/kubelet-1.20.15-2.nokmem.aarch64.rpm",
      "1.20/Packages/kubelet-1.20.15-2.nokmem.x86_64.rpm",
    ]);
    expect(r.repositories.map((x) => [x.minor, x.id, x.baseUrl, x.revision])).toEqual([
      ["1.19", "kmem-build-1.19", "https://repo.example.com/kmem/1.19", SDE + 3600],
      ["1.20", "kmem-build-1.20", "https://repo.example.com/kmem/1.20", SDE],
    ]);
    for (const minor of ["1.19", "1.20"]) {
      const dir = join(out, minor);
      const primary = await readPrimary(dir);
      expect(primary.map((p) => `${minor}/${p.href}`).sort()).toEqual(
        r.packages.filter((p) => p.file.startsWith(`${minor}/`)).map((p) => p.file),
      );
      for (const p of primary) {
        expect(p.sha256).toBe(await sha256File(join(dir, p.href)));
        const version = minor === "1.19" ? "1.19.16" : "1.20.15";
        expect(await sha256File(join(dist, version, p.href.slice("Packages/".length)))).toBe(p.sha256);
        expect(p).toMatchObject({ name: "kubelet", version, release: "2.nokmem" });
      }
      expect((await readdir(dir)).sort()).toEqual(["Packages", `kmem-build-${minor}.repo`, "repodata"]);
      expect((await stat(dir)).mode & 0o777).toBe(0o755);
    }
    expect(await readFile(join(out, "1.19", "repodata", "repomd.xml"), "utf8")).toContain(
      `<revision>${SDE + 3600}</revision>`,
    );
    expect(await readFile(join(out, "1.20", "kmem-build-1.20.repo"), "utf8")).toBe(
      "# kmem-build: the nokmem kubelet. priority= keeps it through `yum update` when another repository\n" +
        "# has a newer kubelet: dnf honours it, EL7's yum 3 only with yum-plugin-priorities installed.\n" +
        "# WARNING: gpgcheck=0: the nodes install these kubelet RPMs without checking a signature (sign them: kmem-build build --sign-key, or rpmsign)\n" +
        "# WARNING: repo_gpgcheck=0: the nodes take this repository's metadata without checking a signature (kmem-build repo --sign-key)\n" +
        "[kmem-build-1.20]\nname=kubelet 1.20 built without kmem accounting (kmem-build)\nbaseurl=https://repo.example.com/kmem/1.20\n" +
        "enabled=1\ngpgcheck=0\nrepo_gpgcheck=0\npriority=10\n",
    );
    expect(r.metadataSigned).toBe(false);
    expect((await readdir(out)).sort()).toEqual([".kmem-build-repo", "1.19", "1.20"]);
    expect((await stat(out)).mode & 0o777).toBe(0o755);
  });

  it("puts every package in one repository with --layout single", async () => {
    const out = join(await tempDir("repo-flat"), "repo");
    const r = await buildRepo({
      from: [dist],
      out,
      layout: "single",
      baseUrl: "https://repo.example.com/kmem",
    });
    expect(r.packages.map((p) => p.file)).toEqual([
      "Packages/kubelet-1.19.16-2.nokmem.x86_64.rpm",
      "Packages/kubelet-1.20.15-2.nokmem.aarch64.rpm",
      "Packages/kubelet-1.20.15-2.nokmem.x86_64.rpm",
    ]);
    expect(r.repositories).toHaveLength(1);
    expect(r.repositories[0]).toMatchObject({ minor: null, id: "kmem-build", dir: out });
    expect((await readPrimary(out)).map((p) => p.href).sort()).toEqual(r.packages.map((p) => p.file));
    expect((await readdir(out)).sort()).toEqual([
      ".kmem-build-repo",
      "Packages",
      "kmem-build.repo",
      "repodata",
    ]);
    await expect(buildRepo({ from: [dist], out, layout: "flat" as never })).rejects.toThrow(
      /invalid repository layout/,
    );
  });

  it("gives identical repodata from two runs", async () => {
    const a = join(await tempDir("repo-a"), "repo");
    const b = join(await tempDir("repo-b"), "somewhere", "else");
    await buildRepo({ from: [dist], out: a, baseUrl: "https://x.example/r" });
    await new Promise((r) => setTimeout(r, 1100)); // a different wall-clock second must not matter
    await buildRepo({ from: [dist], out: b, baseUrl: "https://x.example/r" });
    const fa = await filesUnder(a);
    expect(fa.size).toBeGreaterThan(5);
    expect(await filesUnder(b)).toEqual(fa);
  });

  it("accepts single <version> directories, several --from, and defaults baseurl to the output path", async () => {
    const out = join(await tempDir("repo-single"), "repo");
    const r = await buildRepo({
      from: [join(dist, "1.19.16"), join(dist, "1.20.15")],
      out,
      id: "kubelet-nokmem",
    });
    expect(r.packages).toHaveLength(3);
    const text = r.repositories[1]!.repoFileText;
    expect(text).toContain("[kubelet-nokmem-1.20]\n");
    expect(text).toContain(`baseurl=file://${resolve(out)}/1.20\n`);
    expect(text).toContain("\npriority=10\n");
    expect((await stat(join(out, "1.20", "kubelet-nokmem-1.20.repo"))).isFile()).toBe(true);
  });

  it("refuses an RPM that does not match its SHA256SUMS (exit 2) and keeps the old repository", async () => {
    const parent = await tempDir("repo-tamper");
    const bad = join(parent, "dist");
    await cp(dist, bad, { recursive: true });
    const out = join(parent, "repo");
    await buildRepo({ from: [bad], out });
    const before = await filesUnder(out);
    await appendFile(join(bad, "1.20.15", "kubelet-1.20.15-2.nokmem.aarch64.rpm"), "x");
    const err = await buildRepo({ from: [bad], out }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(exitCodeOf(err)).toBe(2);
    expect((err as Error).message).toMatch(/checksum mismatch: .*kubelet-1\.20\.15-2\.nokmem\.aarch64\.rpm/);
    expect(await filesUnder(out)).toEqual(before);
    expect((await readdir(parent)).sort()).toEqual(["dist", "repo"]); // no temp dirs left behind
  });

  it("refuses an RPM no SHA256SUMS lists, and a directory without RPMs", async () => {
    const parent = await tempDir("repo-unlisted");
    await cp(join(dist, "1.19.16"), join(parent, "1.19.16"), { recursive: true });
    await copyFile(
      join(dist, "1.20.15", "kubelet-1.20.15-2.nokmem.x86_64.rpm"),
      join(parent, "1.19.16", "extra.rpm"),
    );
    await expect(buildRepo({ from: [parent], out: join(parent, "repo") })).rejects.toThrow(
      /extra\.rpm: not listed in any SHA256SUMS/,
    );
    const empty = await tempDir("repo-empty");
    await expect(buildRepo({ from: [empty], out: join(empty, "repo") })).rejects.toThrow(
      /no \.rpm files found/,
    );
  });

  it("signs repomd.xml, exports the key, and turns on gpgcheck when the RPMs carry that key's signature", async () => {
    const parent = await tempDir("repo-signed");
    const signedDist = join(parent, "dist");
    await cp(dist, signedDist, { recursive: true });
    for (const v of ["1.19.16", "1.20.15"]) {
      const dir = join(signedDist, v);
      const rpms = (await readdir(dir)).filter((f) => f.endsWith(".rpm")).map((f) => join(dir, f));
      await signRpms(rpms, key.fingerprint, { gnupgHome: key.home });
      await writeSha256Sums(dir, rpms); // signing changes the bytes: checksum after signing
    }
    const out = join(parent, "repo");
    const r = await buildRepo({
      from: [signedDist],
      out,
      signKey: key.uid,
      gnupgHome: key.home,
      baseUrl: "https://repo.example.com/kmem",
    });
    expect(r).toMatchObject({
      metadataSigned: true,
      packagesSigned: true,
      publicKey: join(out, "RPM-GPG-KEY-kmem-build"),
    });
    const env = { GNUPGHOME: key.home };
    const repomd = join(out, "1.20", "repodata", "repomd.xml");
    expect(
      (await run("gpg", ["--batch", "--verify", `${repomd}.asc`, repomd], { env, allowFailure: true }))
        .exitCode,
    ).toBe(0);
    // The exported key alone (fresh keyring) verifies it too, as yum does with gpgkey=.
    const fresh = await tempDir("gnupg-fresh");
    await run("gpg", ["--batch", "--import", join(out, "RPM-GPG-KEY-kmem-build")], {
      env: { GNUPGHOME: fresh },
    });
    expect(
      (
        await run("gpg", ["--batch", "--verify", `${repomd}.asc`, repomd], {
          env: { GNUPGHOME: fresh },
          allowFailure: true,
        })
      ).exitCode,
    ).toBe(0);
    await stopAgent(fresh);
    const text = r.repositories.find((x) => x.minor === "1.20")!.repoFileText;
    expect(text).toBe(
      renderRepoFile({
        id: "kmem-build-1.20",
        minor: "1.20",
        baseUrl: "https://repo.example.com/kmem/1.20",
        gpgKeyUrl: "https://repo.example.com/kmem/RPM-GPG-KEY-kmem-build",
        gpgcheck: true,
        repoGpgcheck: true,
      }),
    );
    // Both signatures checked: no warning in the file the nodes get.
    expect(text).not.toContain("WARNING");
    expect(text).toContain(
      "baseurl=https://repo.example.com/kmem/1.20\nenabled=1\n" +
        "gpgcheck=1\nrepo_gpgcheck=1\ngpgkey=https://repo.example.com/kmem/RPM-GPG-KEY-kmem-build\n",
    );
    expect((await readdir(out)).sort()).toEqual([
      ".kmem-build-repo",
      "1.19",
      "1.20",
      "RPM-GPG-KEY-kmem-build",
    ]);

    // Unsigned RPMs in a signed repository: metadata signed, but gpgcheck stays off (yum would refuse them).
    const half = await buildRepo({
      from: [dist],
      out: join(parent, "half"),
      signKey: key.fingerprint,
      gnupgHome: key.home,
    });
    expect(half).toMatchObject({ metadataSigned: true, packagesSigned: false });
    expect(half.repositories[0]!.repoFileText).toContain("gpgcheck=0\nrepo_gpgcheck=1\ngpgkey=");
    expect(half.repositories[0]!.repoFileText).toContain(
      "# WARNING: gpgcheck=0: the nodes install these kubelet RPMs without checking a signature",
    );
    expect(half.repositories[0]!.repoFileText).not.toContain("repo_gpgcheck=0:");
  });

  it("refuses to write the repository over a build output", async () => {
    await expect(buildRepo({ from: [join(dist, "1.20.15")], out: dist })).rejects.toThrow(
      /would replace the build output/,
    );
    await expect(buildRepo({ from: [dist], out: dist })).rejects.toThrow(UsageError);
    expect((await readdir(dist)).sort()).toEqual(["1.19.16", "1.20.15"]);
  });

  it("checks the signing key before doing any work", async () => {
    const out = join(await tempDir("repo-nokey"), "repo");
    const err = await buildRepo({
      from: [dist],
      out,
      signKey: "nobody@example.invalid",
      gnupgHome: key.home,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).hint).toMatch(/--list-secret-keys/);
    expect(await stat(out).catch(() => null)).toBeNull();
  });
});

describe("kmem-build repo (command)", () => {
  async function runCommand(args: string[], env: Record<string, string> = {}) {
    const program = new Command().exitOverride();
    registerRepo(program);
    let stdout = "";
    const spy = vi
      .spyOn(process.stdout, "write")
      .mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
    const errSpy = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      await program.parseAsync(["node", "kmem-build", "repo", ...args]);
      return stdout;
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
      process.env = saved;
    }
  }

  it("prints the .repo file, or JSON with --json; SOURCE_DATE_EPOCH sets the revision", async () => {
    const parent = await tempDir("repo-cli");
    const text = await runCommand([
      "--from",
      join(dist, "1.20.15"),
      "--from",
      join(dist, "1.19.16"),
      "--out",
      join(parent, "r1"),
      "--base-url",
      "http://h/r",
    ]);
    expect(text).toBe(
      (await readFile(join(parent, "r1", "1.19", "kmem-build-1.19.repo"), "utf8")) +
        "\n" +
        (await readFile(join(parent, "r1", "1.20", "kmem-build-1.20.repo"), "utf8")),
    );
    const json = JSON.parse(
      await runCommand(["--from", dist, "--out", join(parent, "r2"), "--json", "--name", "k"], {
        SOURCE_DATE_EPOCH: "1800000000",
      }),
    );
    expect(json).toMatchObject({
      ok: true,
      layout: "minor",
      revision: 1800000000,
      repositories: [
        { id: "k-1.19", minor: "1.19", repoFile: join(parent, "r2", "1.19", "k-1.19.repo") },
        { id: "k-1.20", minor: "1.20", repoFile: join(parent, "r2", "1.20", "k-1.20.repo") },
      ],
    });
    const schema = JSON.parse(await readFile(resolve("schemas/repo-result.schema.json"), "utf8"));
    const validate = new Ajv({ allErrors: true }).compile(schema);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    expect(json.packages).toHaveLength(3);
  });

  it("rejects a bad SOURCE_DATE_EPOCH and a bad --base-url as usage errors", async () => {
    const out = join(await tempDir("repo-cli-bad"), "r");
    await expect(
      runCommand(["--from", dist, "--out", out], { SOURCE_DATE_EPOCH: "yesterday" }),
    ).rejects.toThrow(UsageError);
    await expect(
      runCommand(["--from", dist, "--out", out, "--base-url", "repo.example.com"]),
    ).rejects.toThrow(/invalid --base-url/);
    await expect(runCommand(["--from", dist, "--out", out, "--priority", "0"])).rejects.toThrow(
      /invalid --priority: "0"/,
    );
    await expect(buildRepo({ from: [dist], out, priority: 100 })).rejects.toThrow(UsageError);
  });

  it.runIf(cliWorks)(
    "an unsigned repository warns on stderr what the nodes will not check (built CLI)",
    async () => {
      const parent = await tempDir("repo-cli-unsigned");
      for (const json of [[], ["--json"]]) {
        const out = join(parent, `r${json.length}`);
        const r = await run("node", [cli, "repo", ...json, "--from", dist, "--out", out]);
        expect(r.stderr).toContain(
          "warning: gpgcheck=0: the nodes install these kubelet RPMs without checking a signature",
        );
        expect(r.stderr).toContain(
          "warning: repo_gpgcheck=0: the nodes take this repository's metadata without checking a signature",
        );
        expect(await readFile(join(out, "1.20", "kmem-build-1.20.repo"), "utf8")).toMatch(
          /^# WARNING: gpgcheck=0: /m,
        );
      }
    },
  );

  it.runIf(cliWorks)("exits 2 on a checksum mismatch (built CLI)", async () => {
    const parent = await tempDir("repo-cli-bin");
    await cp(join(dist, "1.19.16"), join(parent, "v"), { recursive: true });
    await writeFile(
      join(parent, "v", "SHA256SUMS"),
      `${"0".repeat(64)}  kubelet-1.19.16-2.nokmem.x86_64.rpm\n`,
    );
    const r = await run("node", [cli, "repo", "--from", join(parent, "v"), "--out", join(parent, "repo")], {
      allowFailure: true,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/checksum mismatch/);
    const j = await run(
      "node",
      [cli, "repo", "--json", "--from", join(parent, "v"), "--out", join(parent, "repo")],
      { allowFailure: true },
    );
    expect(j.exitCode).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ ok: false, error: { type: "UsageError", exitCode: 2 } });
    expect(await stat(join(parent, "repo")).catch(() => null)).toBeNull();
    await rm(join(parent, "v"), { recursive: true });
  });
});
