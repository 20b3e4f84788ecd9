import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendFile, cp, mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
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
  const [repo120] = ours.repositories;
  await writeFile(join(dnf.reposDir, `${repo120!.id}.repo`), repo120!.repoFileText);
});
afterAll(async () => {
  await stopAgent(key.home);
  await removeTempDirs();
});

describe("dnf transaction on an installroot", () => {
  it("installs the official-like kubelet 1.20.2-0 and the EL7 stubs", async () => {
    const r = await dnf(["--disablerepo=kmem-build-1.20", "install", "kubelet-1.20.2-0", "kubectl-1.20.2-0"]);
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
    const repomd = join(dir, "1.20", "repodata", "repomd.xml");
    await writeFile(repomd, (await readFile(repomd, "utf8")).replace(/<revision>\d+/, "<revision>1"));
    const r = await dnf([...only("kb-tampered-md", join(dir, "1.20")), "upgrade", "kubelet"]);
    show("upgrade from a repository with a tampered repomd.xml", r.output);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/repomd\.xml GPG signature verification error|Bad GPG signature/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
  });

  it("refuses a tampered RPM and an RPM without our signature (gpgcheck=1)", async () => {
    const dir = join(await tempDir("dnf-tampered-rpm"), "repo");
    await cp(ours.repo, dir, { recursive: true });
    await appendFile(join(dir, ours.packages[0]!.file), "x");
    const bytes = await dnf([...only("kb-tampered-rpm", join(dir, "1.20")), "upgrade", "kubelet"]);
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
    const r = await dnf([...only("kb-unsigned", unsigned.repositories[0]!.dir, false), "upgrade", "kubelet"]);
    show("upgrade with an unsigned RPM", r.output);
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toMatch(/is not signed|GPG check FAILED/);
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
  });

  it("upgrades to the signed nokmem kubelet, importing the repository's key, keeping the edited sysconfig", async () => {
    // The installroot is a 3.10 node mid-fix: the old kubelet switched kmem accounting on in kubepods.
    await el7Node(dnf.root, { kernel: "3.10.0-1160.el7.x86_64", kubepods: "kubepods", accounting: true });
    const r = await dnf(["upgrade", "kubelet"]);
    show("upgrade kubelet", r.output);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toMatch(/Importing GPG key 0x[0-9A-F]{8}:/);
    expect(r.output).toContain("Running scriptlet: kubelet-1.20.2-2.nokmem.x86_64");
    // %post of an upgrade ($1 = 2): daemon-reload, no preset, no restart (the operator restarts after a drain).
    expect(await systemctlCalls(dnf.root)).toEqual(["daemon-reload"]);
    const notice = scriptletOutput(r.output, "kubelet-1.20.2-2.nokmem.x86_64");
    show("%post lines shown to the operator", notice.join("\n") || "(none)");
    expect(notice).toEqual([REBOOT_NOTICE("/sys/fs/cgroup/memory/kubepods")]);
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
    const lost = await dnf(["--setopt=kmem-build-1.20.priority=99", "update", "--assumeno"]);
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

  it("says nothing at the upgrade once kubepods no longer accounts, on a 4.x kernel, or on a fresh install", async () => {
    const cases: { name: string; node: El7Node; args: string[]; back: string[] }[] = [
      {
        // After the reboot (or with cgroup.memory=nokmem on 3.10.0-1127+) slabinfo fails to read.
        name: "3.10, kubepods.slice (systemd driver) not accounting",
        node: { kernel: "3.10.0-1160.el7.x86_64", kubepods: "kubepods.slice", accounting: false },
        args: ["upgrade", "kubelet"],
        back: ["downgrade", "kubelet-1.20.2-0"],
      },
      {
        // >= 4.6 charges kmem by itself: restarting or rebooting would not change it, so no notice.
        name: "4.18 (EL8) kernel, kubepods accounting",
        node: { kernel: "4.18.0-348.el8.x86_64", kubepods: "kubepods", accounting: true },
        args: ["upgrade", "kubelet"],
        back: ["remove", "kubelet"],
      },
      {
        name: "fresh install ($1 = 1) on 3.10 with kubepods accounting",
        node: { kernel: "3.10.0-957.el7.x86_64", kubepods: "kubepods", accounting: true },
        args: ["install", "kubelet-1.20.2-2.nokmem"],
        back: ["downgrade", "kubelet-1.20.2-0"],
      },
    ];
    for (const c of cases) {
      await el7Node(dnf.root, c.node);
      const r = await dnf(c.args);
      show(`${c.args.join(" ")} on ${c.name}`, r.output);
      expect(r.exitCode, r.output).toBe(0);
      expect(scriptletOutput(r.output, "kubelet-1.20.2-2.nokmem.x86_64"), c.name).toEqual([]);
      expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-2.nokmem.x86_64");
      const b = await dnf(c.back);
      expect(b.exitCode, b.output).toBe(0);
    }
    expect(await installed(dnf.root, "kubelet")).toBe("kubelet-1.20.2-0.x86_64");
  });
});

/** The one line %post prints on an upgrade while kubepods on a 3.x kernel still accounts (templates/kubelet.spec.in). */
const REBOOT_NOTICE = (dir: string) =>
  `kmem-build: ${dir} still accounts kernel memory: restart the kubelet, then drain and reboot this node for the nokmem fix to take hold (/usr/libexec/kmem-build/verify-kmem.sh --reboot-required exits 0 while the reboot is due)`;

interface El7Node {
  kernel: string;
  kubepods: "kubepods" | "kubepods.slice";
  accounting: boolean;
}

/**
 * The files %post reads, inside the installroot rpm chroots into: the kernel release, and kubepods'
 * memory.kmem.slabinfo, which on 3.10 reads (a "slabinfo - version: 2.1" header) while accounting is
 * on and fails to read while it is off (a dangling link here: the read fails the same way for sh).
 */
async function el7Node(root: string, node: El7Node): Promise<void> {
  await rm(join(root, "proc"), { recursive: true, force: true });
  await rm(join(root, "sys"), { recursive: true, force: true });
  await mkdir(join(root, "proc/sys/kernel"), { recursive: true });
  await writeFile(join(root, "proc/sys/kernel/osrelease"), `${node.kernel}\n`);
  const dir = join(root, "sys/fs/cgroup/memory", node.kubepods);
  await mkdir(dir, { recursive: true });
  const slabinfo = join(dir, "memory.kmem.slabinfo");
  if (node.accounting) await writeFile(slabinfo, "slabinfo - version: 2.1\n", { mode: 0o400 });
  else await symlink("/nonexistent/accounting-off", slabinfo);
}
