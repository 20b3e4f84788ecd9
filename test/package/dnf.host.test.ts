import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendFile, cp, mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildRpm } from "../../src/package/rpm.js";
import { writeSha256Sums } from "../../src/package/checksums.js";
import { signRpms } from "../../src/package/sign.js";
import { buildRepo, type RepoResult } from "../../src/package/repo.js";
import { run } from "../../src/exec.js";
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
import * as S from "../verify/helpers/scenarios.js";

const SHOW = process.env.KMEM_BUILD_SHOW_DNF === "1";
let key: Awaited<ReturnType<typeof throwawayKey>>;
let ours: RepoResult;
let official: string;
let kubectl: string;
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
  kubectl = await buildOfficialKubectl(join(top, "c1"), "1.20.2");
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

/** Where docs/installing.md serves the repositories; the walk serves them from a directory instead. */
const DOC_REPO_URL = "https://repo.example.com/kmem-build";

/**
 * The command lines of docs/installing.md's ```sh blocks that change packages or repositories or run
 * the gate (the ones starting with kmem-build, curl, cp, sed, sh or yum), in order, their trailing
 * comments removed.
 */
export function documentedCommands(markdown: string): string[] {
  const out: string[] = [];
  for (const block of markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm))
    for (const line of block[1]!.split("\n")) {
      const cmd = line.replace(/\s+#.*$/, "").trim();
      if (/^(kmem-build|curl|cp|sed|sh|yum) /.test(cmd)) out.push(cmd);
    }
  return out;
}

describe("the documented rollout (docs/installing.md), command by command on a 1.20.2 node", () => {
  let doc: string[];
  const ran: string[] = [];
  let node: Dnf;
  let work: string;
  let nodeOfficial: string;
  let platform: Awaited<ReturnType<typeof throwawayKey>>;

  beforeAll(async () => {
    doc = documentedCommands(await readFile(resolve("docs/installing.md"), "utf8"));
    platform = await throwawayKey("default", "Platform Team <platform@example.com>");
    work = await tempDir("rollout-work"); // the build host's working directory: dist/ and repo/
    nodeOfficial = join(await tempDir("rollout-official"), "repo");
    await publish(nodeOfficial, [...stubs, official, kubectl]);
    node = await makeDnf(await tempDir("rollout-node"), { versionlock: true });
    await mkdir(join(node.root, "root"));
    await symlink(resolve("lib/cli.js"), join(node.binDir, "kmem-build"));
    await writeFile(
      join(node.reposDir, "kubernetes.repo"),
      `[kubernetes]\nname=Kubernetes (official-like)\nbaseurl=file://${nodeOfficial}\nenabled=1\ngpgcheck=0\n`,
    );
    const r = await node(["install", "kubelet-1.20.2-0", "kubectl-1.20.2-0"]);
    expect(r.exitCode, r.output).toBe(0);
  });
  afterAll(() => stopAgent(platform.home));

  /**
   * Runs the next command of the page, which must be `line`: through bash with `yum` being dnf on the
   * installroot, /etc/yum.repos.d/ the node's, the repository URL our repository directory. A
   * `kmem-build build` line goes through the real CLI with --dry-run (options and release checked,
   * notices printed), and its output is made by the same packaging code around a stand-in kubelet.
   * The node's /usr/libexec/ and /root/ are the installroot's; `fixture` (script options naming a
   * fixture node's /proc, cgroup tree and kubelet) is appended to a `sh` line.
   */
  async function step(line: string, fixture: string[] = []) {
    expect(doc[ran.length], `docs/installing.md command #${ran.length + 1}`).toBe(line);
    ran.push(line);
    const env = { PATH: `${node.binDir}:${process.env.PATH}`, GNUPGHOME: platform.home };
    const shell = (cmd: string) =>
      run("bash", ["-c", cmd], { cwd: work, env, allowFailure: true, timeoutMs: 180_000 });
    if (line.startsWith("kmem-build build ")) {
      const dry = await shell(`${line} --dry-run`);
      expect(dry.exitCode, dry.stderr).toBe(0);
      await standInBuild(line);
      return { ...dry, output: `${dry.stdout}\n${dry.stderr}` };
    }
    const r = await shell(
      line
        .replaceAll(DOC_REPO_URL, `file://${join(work, "repo")}`)
        .replaceAll("/etc/yum.repos.d/", `${node.reposDir}/`)
        .replace(/(?<=^|\s)\/(usr\/libexec|root)\//g, (dir) => `${node.root}${dir}`) +
        fixture.map((a) => ` '${a.replace(/'/g, "'\\''")}'`).join(""),
    );
    const output = `${r.stdout}\n${r.stderr}`;
    show(line, output);
    return { ...r, output };
  }

  /** What `kmem-build build --kubernetes V [--release R] --out dist/ --sign-key K` leaves in dist/V/. */
  async function standInBuild(line: string) {
    const version = /--kubernetes (\S+)/.exec(line)![1]!;
    const release = /--release (\S+)/.exec(line)?.[1] ?? "2.nokmem";
    const src = await tempDir("rollout-src");
    const out = join(work, "dist", version);
    await rm(out, { recursive: true, force: true }); // a build replaces its release directory whole
    const rpm = await buildRpm({
      version,
      release,
      arch: "amd64",
      binary: await standInKubelet(src, `v${version} nokmem ${release}`),
      verifyScript: resolve("scripts/verify-kmem.sh"), // the gate steps run the packaged script
      sourceDateEpoch: SDE,
      workDir: await tempDir("rollout-rpmwork"),
      outDir: out,
      evidence: "nokmem marker present",
    });
    await signRpms([rpm.file], platform.fingerprint, { gnupgHome: platform.home });
    await writeSha256Sums(out, [rpm.file]);
  }

  const kubeletOn = () => installed(node.root, "kubelet");

  /** A 1.20.2 node on a RHEL 7.6 kernel (cgroupfs driver) at one moment of the fix, as fixture files. */
  const fixtureNode = async (moment: Pick<S.El7Spec, "parents" | "pod" | "kubelet" | "running">) =>
    S.el7Node(await tempDir("rollout-fixture"), { kernel: S.RHEL7["7.6"], driver: "cgroupfs", ...moment })
      .args;
  /** The moments of the walk: the official kubelet armed kubepods, its QoS parents and the pod under them. */
  const ARMED = { parents: true, pod: true } as const;

  /** Runs the page's next command, a gate, on a fixture node; returns its exit code and fix state. */
  async function gate(line: string, fixture: string[]) {
    const r = await step(line, fixture);
    return [r.exitCode, /^Fix state: ([a-z-]+):/m.exec(r.stdout)?.[1]];
  }

  it("publishes two minors and two 1.20 patches, one signed repository per minor", async () => {
    await step('kmem-build build --kubernetes 1.19.16 --out dist/ --sign-key "Platform Team"');
    await step('kmem-build build --kubernetes 1.20.2 --out dist/ --sign-key "Platform Team"');
    await step('kmem-build build --kubernetes 1.20.15 --out dist/ --sign-key "Platform Team"');
    const r = await step(
      `kmem-build repo --from dist/ --out repo/ --base-url ${DOC_REPO_URL} --sign-key "Platform Team"`,
    );
    expect(r.exitCode, r.output).toBe(0);
    expect(r.stderr).not.toContain("warning:");
    expect((await readdir(join(work, "repo"))).sort()).toEqual([
      ".kmem-build-repo",
      "1.19",
      "1.20",
      "RPM-GPG-KEY-kmem-build",
    ]);
    expect((await readdir(join(work, "repo", "1.20", "Packages"))).sort()).toEqual([
      "kubelet-1.20.15-2.nokmem.x86_64.rpm",
      "kubelet-1.20.2-2.nokmem.x86_64.rpm",
    ]);
    expect(await readFile(join(work, "repo", "1.20", "kmem-build-1.20.repo"), "utf8")).toContain(
      "[kmem-build-1.20]\n",
    );
  });

  it("installs the node's own version by name and locks it", async () => {
    // Before the install the node runs the official kubelet: the gate of the script in the RPM says `install`.
    const extracted = await tempDir("rollout-rpm-payload");
    const rpmFile = join(work, "repo", "1.20", "Packages", "kubelet-1.20.2-2.nokmem.x86_64.rpm");
    await run("bash", ["-c", `rpm2cpio "$1" | cpio -idm --quiet ./${PACKAGED_SCRIPT}`, "-", rpmFile], {
      cwd: extracted,
    });
    const before = await run(
      "sh",
      [join(extracted, PACKAGED_SCRIPT), "--gate", ...(await fixtureNode({ ...ARMED, kubelet: "kmem" }))],
      { allowFailure: true },
    );
    expect([before.exitCode, /^Fix state: ([a-z-]+):/m.exec(before.stdout)?.[1]], before.stdout).toEqual([
      1,
      "install",
    ]);

    const get = await step(
      `curl -fsSo /etc/yum.repos.d/kmem-build-1.20.repo ${DOC_REPO_URL}/1.20/kmem-build-1.20.repo`,
    );
    expect(get.exitCode, get.output).toBe(0);
    const install = await step("yum install kubelet-1.20.2-2.nokmem");
    expect(install.exitCode, install.output).toBe(0);
    expect(install.output).toMatch(/Importing GPG key 0x[0-9A-F]{8}:/);
    expect(install.output).toMatch(
      /Upgrading:\s*\n\s*kubelet\s+x86_64\s+1\.20\.2-2\.nokmem\s+kmem-build-1\.20/,
    );
    expect(await kubeletOn()).toBe("kubelet-1.20.2-2.nokmem.x86_64");
    const lock = await step("yum versionlock add kubelet-1.20.2-2.nokmem");
    expect(lock.exitCode, lock.output).toBe(0);
    expect(await readFile(join(node.root, "etc/dnf/plugins/versionlock.list"), "utf8")).toContain(
      "kubelet-0:1.20.2-2.nokmem.*",
    );
    // The gate runs the script the RPM installed, the one in the RPM, byte for byte the source's.
    const packaged = await readFile(join(node.root, PACKAGED_SCRIPT));
    expect(packaged.equals(await readFile(join(extracted, PACKAGED_SCRIPT)))).toBe(true);
    expect(packaged.equals(await readFile(resolve("scripts/verify-kmem.sh")))).toBe(true);
    const GATE = `sh /${PACKAGED_SCRIPT} --gate`;
    // Installed, the old kubelet still running (its deleted file): restart.
    expect(await gate(GATE, await fixtureNode({ ...ARMED, kubelet: "nokmem", running: "deleted" }))).toEqual([
      1,
      "restart",
    ]);
    // `systemctl restart kubelet`: the nokmem kubelet runs, kubepods and its QoS parents stay armed: reboot.
    expect(await gate(GATE, await fixtureNode({ parents: true, kubelet: "nokmem" }))).toEqual([1, "reboot"]);
    // After the reboot nothing accounts: fixed, the only step the gate lets through.
    expect(await gate(GATE, await fixtureNode({ kubelet: "nokmem" }))).toEqual([0, "fixed"]);
  });

  it("stays on 1.20.2-2.nokmem through `yum upgrade kubelet` and `yum update` with 1.20.15 and the official 1.20.3 published", async () => {
    await publish(nodeOfficial, officialNext);
    // Without the lock, the next patch of our own repository would be taken (the risk it closes).
    const unlocked = await node([
      "--refresh",
      "--disableplugin=versionlock",
      "upgrade",
      "kubelet",
      "--assumeno",
    ]);
    show("upgrade kubelet without the versionlock (--assumeno)", unlocked.output);
    expect(unlocked.output).toMatch(
      /Upgrading:\s*\n\s*kubelet\s+x86_64\s+1\.20\.15-2\.nokmem\s+kmem-build-1\.20/,
    );
    // Without the priority, the official 1.20.3-0 would be taken.
    const unprioritised = await node([
      "--disableplugin=versionlock",
      "--setopt=kmem-build-1.20.priority=99",
      "--setopt=kmem-build-1.20.exclude=kubelet-1.20.15*",
      "update",
      "--assumeno",
    ]);
    expect(unprioritised.output).toMatch(/^\s*kubelet\s+x86_64\s+1\.20\.3-0\s+kubernetes/m);
    // exclude=kubelet in our own section: the official kubelet is the only candidate left.
    const excluded = await node([
      "--disableplugin=versionlock",
      "--setopt=kmem-build-1.20.exclude=kubelet",
      "update",
      "--assumeno",
    ]);
    show("update with exclude=kubelet in our section (--assumeno)", excluded.output);
    expect(excluded.output).toMatch(/^\s*kubelet\s+x86_64\s+1\.20\.3-0\s+kubernetes/m);

    const upgrade = await step("yum upgrade kubelet");
    expect(upgrade.exitCode, upgrade.output).toBe(0);
    expect(upgrade.output).toMatch(/Nothing to do/);
    const update = await step("yum update");
    expect(update.exitCode, update.output).toBe(0);
    expect(update.output).toMatch(/Upgrading:\s*\n\s*kubectl\s+x86_64\s+1\.20\.3-0\s+kubernetes/);
    expect(update.output).not.toMatch(/^\s*kubelet\s+x86_64/m);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-2.nokmem.x86_64");
    expect(await installed(node.root, "kubectl")).toBe("kubectl-1.20.3-0.x86_64");
    // Locked: another patch by name is refused too, until the lock is moved.
    const other = await node(["install", "kubelet-1.20.15-2.nokmem"]);
    show("install kubelet-1.20.15-2.nokmem while locked", other.output);
    expect(other.exitCode).not.toBe(0);
    expect(other.output).toMatch(/Unable to find a match|excluded/);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-2.nokmem.x86_64");
  });

  it("a rebuild under the same release never reaches the node; the next release does, by its name", async () => {
    // Same NEVRA, other bytes: dnf sees kubelet-1.20.2-2.nokmem as installed and takes nothing.
    const same = join(await tempDir("rollout-same"), "1.20.2");
    const src = await tempDir("rollout-same-src");
    const rebuilt = await buildRpm({
      version: "1.20.2",
      release: "2.nokmem",
      arch: "amd64",
      binary: await standInKubelet(src, "v1.20.2 rebuilt under the same release"),
      sourceDateEpoch: SDE + 1,
      workDir: await tempDir("rollout-same-work"),
      outDir: same,
    });
    await writeSha256Sums(same, [rebuilt.file]);
    const sameRepo = await buildRepo({ from: [same], out: join(same, "..", "repo"), layout: "single" });
    const r = await node([
      "--disableplugin=versionlock",
      `--repofrompath=kb-same,file://${sameRepo.repo}`,
      "--setopt=kb-same.gpgcheck=0",
      "--repo=kb-same",
      "upgrade",
      "kubelet",
    ]);
    show("upgrade from a rebuild under the same release", r.output);
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toMatch(/Nothing to do/);
    expect(await readFile(join(node.root, "usr/bin/kubelet"), "utf8")).toContain("v1.20.2 nokmem 2.nokmem");
    // kmem-build build names the release to use instead.
    const notice = await run(
      "node",
      [resolve("lib/cli.js"), "build", "--kubernetes", "1.20.2", "--out", "dist/", "--dry-run"],
      {
        cwd: work,
      },
    );
    expect(notice.stderr).toContain(
      "already holds kubelet-1.20.2-2.nokmem: a node that installed it will not take this build as kubelet-1.20.2-2.nokmem; to publish a rebuild, build it with --release 3.nokmem",
    );

    await step(
      'kmem-build build --kubernetes 1.20.2 --release 3.nokmem --out dist/ --sign-key "Platform Team"',
    );
    const repo = await step(
      `kmem-build repo --from dist/ --out repo/ --base-url ${DOC_REPO_URL} --sign-key "Platform Team"`,
    );
    expect(repo.exitCode, repo.output).toBe(0);
    expect((await step("yum clean expire-cache")).exitCode).toBe(0);
    expect((await step("yum versionlock delete kubelet")).exitCode).toBe(0);
    expect(await readFile(join(node.root, "etc/dnf/plugins/versionlock.list"), "utf8")).not.toContain(
      "kubelet",
    );
    const up = await step("yum upgrade kubelet-1.20.2-3.nokmem");
    expect(up.exitCode, up.output).toBe(0);
    expect(up.output).toMatch(/Upgrading:\s*\n\s*kubelet\s+x86_64\s+1\.20\.2-3\.nokmem\s+kmem-build-1\.20/);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-3.nokmem.x86_64");
    expect(await readFile(join(node.root, "usr/bin/kubelet"), "utf8")).toContain("v1.20.2 nokmem 3.nokmem");
    expect((await step("yum versionlock add kubelet-1.20.2-3.nokmem")).exitCode).toBe(0);
  });

  it("rolls back to the official 1.20.2-0, and `yum update` keeps it there", async () => {
    const keep = await step("cp /usr/libexec/kmem-build/verify-kmem.sh /root/verify-kmem.sh");
    expect(keep.exitCode, keep.output).toBe(0);
    expect((await step("yum versionlock delete kubelet")).exitCode).toBe(0);
    expect(
      (await step("sed -i 's/^enabled=1/enabled=0/' /etc/yum.repos.d/kmem-build-1.20.repo")).exitCode,
    ).toBe(0);
    const down = await step("yum downgrade kubelet-1.20.2-0");
    expect(down.exitCode, down.output).toBe(0);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-0.x86_64");
    expect(await readFile(join(node.root, "usr/bin/kubelet"), "utf8")).toContain("official");
    await expect(readFile(join(node.root, PACKAGED_SCRIPT))).rejects.toThrow(/ENOENT/);
    expect((await step("yum versionlock add kubelet-1.20.2-0")).exitCode).toBe(0);
    // Restarted, the official kubelet arms kubepods, its QoS parents and new pods again: install.
    expect(
      await gate("sh /root/verify-kmem.sh --gate", await fixtureNode({ ...ARMED, kubelet: "kmem" })),
    ).toEqual([1, "install"]);
    const update = await step("yum update");
    expect(update.exitCode, update.output).toBe(0);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-0.x86_64");
    // What the rollback guards against: with our repository enabled again and no lock, the next
    // update would put a nokmem kubelet back, the repository's newest (the old, downgrade-only rollback).
    const back = await node([
      "--enablerepo=kmem-build-1.20",
      "--disableplugin=versionlock",
      "update",
      "--assumeno",
    ]);
    show("update with our repository enabled again and no lock (--assumeno)", back.output);
    expect(back.output).toMatch(/^\s*kubelet\s+x86_64\s+1\.20\.15-2\.nokmem\s+kmem-build-1\.20/m);
    expect(await kubeletOn()).toBe("kubelet-1.20.2-0.x86_64");
  });

  it("ran exactly the commands docs/installing.md gives, in its order", () => {
    expect(doc.length).toBeGreaterThan(15);
    expect(ran).toEqual(doc);
  });
});

/** Where the RPM installs verify-kmem.sh, relative to the root. */
const PACKAGED_SCRIPT = "usr/libexec/kmem-build/verify-kmem.sh";

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
