import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendFile, cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildRpm } from "../../src/package/rpm.js";
import { writeSha256Sums } from "../../src/package/checksums.js";
import { signRpms } from "../../src/package/sign.js";
import { buildRepo, type RepoResult } from "../../src/package/repo.js";
import {
  removeTempDirs,
  SDE,
  standInKubelet,
  standInVerifyScript,
  stopAgent,
  tempDir,
  throwawayKey,
} from "./helpers.js";
import {
  buildOfficialKubectl,
  buildOfficialLike,
  buildStubs,
  installed,
  makeDnf,
  publish,
  scriptletOutput,
  systemctlCalls,
  type Dnf,
} from "./dnf-harness.js";

const SHOW = process.env.KMEM_BUILD_SHOW_DNF === "1";
let key: Awaited<ReturnType<typeof throwawayKey>>;
let ours: RepoResult;
let official: string;
let officialNext: string[];
let stubs: string[];
let dnf: Dnf;
let officialRepo: string;
let unsignedRpm: string;

function show(title: string, output: string): void {
  if (SHOW) console.log(`----- dnf ${title}\n${output.trim()}\n`);
}

beforeAll(async () => {
  const top = await tempDir("dnf-rpmbuild");
  stubs = await buildStubs(join(top, "stubs"));
  official = await buildOfficialLike(join(top, "o1"), "1.20.2");
  const kubectl = await buildOfficialKubectl(join(top, "c1"), "1.20.2");
  officialNext = [
    await buildOfficialLike(join(top, "o2"), "1.20.3"),
    await buildOfficialKubectl(join(top, "c2"), "1.20.3"),
  ];
  officialRepo = join(await tempDir("dnf-official"), "repo");
  await publish(officialRepo, [...stubs, official, kubectl]);

  key = await throwawayKey();
  const src = await tempDir("dnf-src");
  const dist = join(await tempDir("dnf-dist"), "1.20.2");
  const rpm = await buildRpm({
    version: "1.20.2",
    release: "2.nokmem",
    arch: "amd64",
    binary: await standInKubelet(src, "v1.20.2 nokmem"),
    verifyScript: await standInVerifyScript(src),
    sourceDateEpoch: SDE,
    workDir: await tempDir("dnf-work"),
    outDir: dist,
    evidence: "nokmem marker present",
  });
  unsignedRpm = join(src, rpm.name);
  await cp(rpm.file, unsignedRpm);
  await signRpms([rpm.file], key.fingerprint, { gnupgHome: key.home });
  await writeSha256Sums(dist, [rpm.file]);
  ours = await buildRepo({
    from: [dist],
    out: join(await tempDir("dnf-ours"), "repo"),
    signKey: key.fingerprint,
    gnupgHome: key.home,
  });

  dnf = await makeDnf(await tempDir("dnf-root"));
  await writeFile(
    join(dnf.reposDir, "kubernetes.repo"),
    `[kubernetes]\nname=Kubernetes (official-like)\nbaseurl=file://${officialRepo}\nenabled=1\ngpgcheck=0\n`,
  );
  await writeFile(join(dnf.reposDir, `${ours.id}.repo`), ours.repoFileText);
});
afterAll(async () => {
  await stopAgent(key.home);
  await removeTempDirs();
});

describe("dnf transaction on an installroot", () => {
  it("installs the official-like kubelet 1.20.2-0 and the EL7 stubs", async () => {
    const r = await dnf(["--disablerepo=kmem-build", "install", "kubelet-1.20.2-0", "kubectl-1.20.2-0"]);
    show("install kubelet-1.20.2-0 (official)", r.output);
    expect(r.exitCode, r.output).toBe(0);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
    await systemctlCalls(dnf.root);
    await writeFile(
      join(dnf.root, "etc/sysconfig/kubelet"),
      "KUBELET_EXTRA_ARGS=--node-labels=team=platform\n",
    );
  });

  /** dnf on one extra repository only, configured as our .repo file configures ours. */
  function only(id: string, dir: string, repoGpgcheck = true): string[] {
    return [
      `--repofrompath=${id},file://${dir}`,
      `--setopt=${id}.gpgcheck=1`,
      `--setopt=${id}.repo_gpgcheck=${repoGpgcheck ? 1 : 0}`,
      `--setopt=${id}.gpgkey=file://${ours.repo}/RPM-GPG-KEY-kmem-build`,
      `--repo=${id}`,
    ];
  }

  it("refuses tampered repository metadata (repo_gpgcheck=1)", async () => {
    const dir = join(await tempDir("dnf-tampered-md"), "repo");
    await cp(ours.repo, dir, { recursive: true });
    const repomd = join(dir, "repodata", "repomd.xml");
    await writeFile(repomd, (await readFile(repomd, "utf8")).replace(/<revision>\d+/, "<revision>1"));
    const r = await dnf([...only("kb-tampered-md", dir), "upgrade", "kubelet"]);
    show("upgrade from a repository with a tampered repomd.xml", r.output);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/repomd\.xml GPG signature verification error|Bad GPG signature/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
  });

  it("refuses a tampered RPM and an RPM without our signature (gpgcheck=1)", async () => {
    const dir = join(await tempDir("dnf-tampered-rpm"), "repo");
    await cp(ours.repo, dir, { recursive: true });
    await appendFile(join(dir, ours.packages[0]!.file), "x");
    const bytes = await dnf([...only("kb-tampered-rpm", dir), "upgrade", "kubelet"]);
    show("upgrade with a tampered RPM", bytes.output);
    expect(bytes.exitCode).not.toBe(0);
    expect(bytes.output).toMatch(/has incorrect checksum|does not match intended download/);

    // The attacker rebuilt unsigned metadata around an unsigned RPM: only the package signature is left.
    const dist = join(await tempDir("dnf-unsigned"), "1.20.2");
    await cp(unsignedRpm, join(dist, unsignedRpm.slice(unsignedRpm.lastIndexOf("/") + 1)), {
      recursive: true,
    });
    await writeSha256Sums(dist, [join(dist, unsignedRpm.slice(unsignedRpm.lastIndexOf("/") + 1))]);
    const unsigned = await buildRepo({ from: [dist], out: join(dist, "..", "repo") });
    const r = await dnf([...only("kb-unsigned", unsigned.repo, false), "upgrade", "kubelet"]);
    show("upgrade with an unsigned RPM", r.output);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/is not signed|GPG check FAILED/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
  });

  it("upgrades to the signed nokmem kubelet, importing the repository's key, keeping the edited sysconfig", async () => {
    const r = await dnf(["upgrade", "kubelet"]);
    show("upgrade kubelet", r.output);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toMatch(/Importing GPG key 0x[0-9A-F]{8}:/);
    expect(r.output).toContain("Running scriptlet: kubelet-1.20.2-2.nokmem.x86_64");
    // %post of an upgrade ($1 = 2): daemon-reload, no preset, no restart (the operator restarts after a drain).
    expect(await systemctlCalls(dnf.root)).toEqual(["daemon-reload"]);
    const notice = scriptletOutput(r.output, "kubelet-1.20.2-2.nokmem.x86_64");
    show("%post lines shown to the operator", notice.join("\n") || "(none)");
    expect(notice.join("\n")).not.toMatch(/can't|not found|warning|error/i);
    expect(r.output).not.toMatch(/scriptlet failed|warning: %post/);
    expect(r.output).toMatch(/Upgrading\s+: kubelet-1\.20\.2-2\.nokmem\.x86_64/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-2.nokmem.x86_64");
    expect(await installed(dnf.root, "kubelet-nokmem", ["--whatprovides"])).toBe(
      "kubelet-1.20.2-2.nokmem.x86_64",
    );
    expect(await readFile(join(dnf.root, "usr/bin/kubelet"), "utf8")).toContain("v1.20.2 nokmem");
    expect(await readFile(join(dnf.root, "etc/sysconfig/kubelet"), "utf8")).toBe(
      "KUBELET_EXTRA_ARGS=--node-labels=team=platform\n",
    );
    expect(await readFile(join(dnf.root, "usr/libexec/kmem-build/verify-kmem.sh"), "utf8")).toContain(
      "stand-in",
    );
  });

  it("keeps the nokmem kubelet at `dnf update` when the official repository publishes 1.20.3-0, updates kubectl", async () => {
    await publish(officialRepo, officialNext);
    const kept = await dnf(["--refresh", "update"]);
    show("update with 1.20.3-0 in the official repository (our .repo file: priority=10)", kept.output);
    expect(kept.exitCode, kept.output).toBe(0);
    // priority= goes by package name: kubectl, which only the official repository has, still updates.
    expect(kept.output).toMatch(/Upgrading:\s*\n\s*kubectl\s+x86_64\s+1\.20\.3-0\s+kubernetes/);
    expect(kept.output).not.toMatch(/^\s*kubelet\s+x86_64/m);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-2.nokmem.x86_64");
    expect(await installed(dnf.root, "kubectl")).toBe("kubectl-1.20.3-0.x86_64");

    // Without the priority (a .repo file from before, or EL7 yum without yum-plugin-priorities):
    const lost = await dnf(["--setopt=kmem-build.priority=99", "update", "--assumeno"]);
    show("update without priority= (--assumeno)", lost.output);
    expect(lost.output).toMatch(/Upgrading:\s*\n\s*kubelet\s+x86_64\s+1\.20\.3-0\s+kubernetes/);
    expect(lost.output).toMatch(/Operation aborted/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-2.nokmem.x86_64");
  });

  it("rolls back to the official 1.20.2-0 with dnf downgrade, still keeping the edited sysconfig", async () => {
    const r = await dnf(["downgrade", "kubelet-1.20.2-0"]);
    show("downgrade kubelet-1.20.2-0", r.output);
    expect(r.exitCode, r.output).toBe(0);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
    expect(await readFile(join(dnf.root, "usr/bin/kubelet"), "utf8")).toContain("official");
    // Our %postun ($1 = 1, an upgrade/downgrade away from it) reloads systemd; %preun stops nothing.
    expect(await systemctlCalls(dnf.root)).toEqual(["daemon-reload"]);
    expect(r.output).not.toMatch(/scriptlet failed|can't create/);
    expect(await readFile(join(dnf.root, "etc/sysconfig/kubelet"), "utf8")).toBe(
      "KUBELET_EXTRA_ARGS=--node-labels=team=platform\n",
    );
  });
});
