import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFile, mkdir, readFile, readdir, stat, utimes, writeFile, chmod } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/exec.js";
import { BuildError, UsageError } from "../../src/errors.js";
import { glibcTooNewForEl7 } from "../../src/package/el7.js";
import { buildRpm, defaultRelease, rpmArch, type BuiltRpm } from "../../src/package/rpm.js";
import { sha256File } from "../../src/package/checksums.js";
import {
  removeTempDirs,
  rpmQuery,
  rpmVercmp,
  SDE,
  standInKubelet,
  standInVerifyScript,
  tempDir,
} from "./helpers.js";

/** Every rpmlib() feature rpm 4.11.3 (EL7) provides, with its version (lib/rpmds.c, rpmlibProvides). */
const RPM_4_11_RPMLIB: Record<string, string> = {
  "rpmlib(VersionedDependencies)": "3.0.3-1",
  "rpmlib(CompressedFileNames)": "3.0.4-1",
  "rpmlib(PayloadIsBzip2)": "3.0.5-1",
  "rpmlib(PayloadIsXz)": "5.2-1",
  "rpmlib(PayloadIsLzma)": "4.4.2-1",
  "rpmlib(PayloadFilesHavePrefix)": "4.0-1",
  "rpmlib(ExplicitPackageProvide)": "4.0-1",
  "rpmlib(HeaderLoadSortsTags)": "4.0.1-1",
  "rpmlib(ScriptletInterpreterArgs)": "4.0.3-1",
  "rpmlib(PartialHardlinkSets)": "4.0.4-1",
  "rpmlib(ConcurrentAccess)": "4.1-1",
  "rpmlib(BuiltinLuaScripts)": "4.2.2-1",
  "rpmlib(FileDigests)": "4.6.0-1",
  "rpmlib(FileCaps)": "4.6.1-1",
  "rpmlib(ScriptletExpansion)": "4.9.0-1",
  "rpmlib(TildeInVersions)": "4.10.0-1",
};

const VERSION = "1.20.15";
let x86: BuiltRpm;
let arm: BuiltRpm;
let kubelet: string;
let verifyScript: string;

beforeAll(async () => {
  const src = await tempDir("rpm-src");
  kubelet = await standInKubelet(src);
  verifyScript = await standInVerifyScript(src);
  const work = await tempDir("rpm-work");
  const out = await tempDir("rpm-out");
  const common = {
    version: VERSION,
    release: defaultRelease(),
    binary: kubelet,
    sourceDateEpoch: SDE,
    workDir: work,
    outDir: out,
  };
  x86 = await buildRpm({ ...common, arch: "amd64", verifyScript, evidence: "nokmem marker present (100%)" });
  arm = await buildRpm({ ...common, arch: "arm64" });
  for (const r of [x86, arm]) console.log(`built ${r.name}: ${(await stat(r.file)).size} bytes`);
});
afterAll(removeTempDirs);

describe("buildRpm", () => {
  it("maps Go arches to rpm arches and names files like the official package", () => {
    expect(["amd64", "arm64", "ppc64le", "s390x"].map((a) => rpmArch(a as "amd64"))).toEqual([
      "x86_64",
      "aarch64",
      "ppc64le",
      "s390x",
    ]);
    expect(x86.name).toBe("kubelet-1.20.15-2.nokmem.x86_64.rpm");
    expect(arm.name).toBe("kubelet-1.20.15-2.nokmem.aarch64.rpm");
  });

  it("has the official name, version, license and URL and says how it was built", async () => {
    const info = await rpmQuery(x86.file, ["-i"]);
    expect(info).toMatch(/^Name\s+: kubelet$/m);
    expect(info).toMatch(/^Version\s+: 1\.20\.15$/m);
    expect(info).toMatch(/^Release\s+: 2\.nokmem$/m);
    expect(info).toMatch(/^Architecture: x86_64$/m);
    expect(info).toMatch(/^License\s+: ASL 2\.0$/m); // as the official EL7-era kubelet RPM declared it
    expect(info).toMatch(/^URL\s+: https:\/\/kubernetes\.io$/m);
    expect(info).toMatch(/^Build Host\s+: kmem-build$/m);
    expect(info).toMatch(/^Summary\s+: .*without cgroup v1 kmem accounting \(nokmem\)$/m);
    expect(info).toMatch(/kmem-build/);
    expect(info).toContain("Build evidence: nokmem marker present (100%)");
  });

  it("holds the files of the official package plus the verify script", async () => {
    const list = (
      await rpmQuery(x86.file, [
        "--qf",
        "[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]",
      ])
    ).split("\n");
    expect(list).toEqual([
      "drwxr-xr-x root:root /etc/kubernetes/manifests",
      "-rw-r--r-- root:root /etc/sysconfig/kubelet",
      "-rwxr-xr-x root:root /usr/bin/kubelet",
      "-rw-r--r-- root:root /usr/lib/systemd/system/kubelet.service",
      "drwxr-xr-x root:root /usr/lib/systemd/system/kubelet.service.d",
      "drwxr-xr-x root:root /usr/libexec/kmem-build",
      "-rwxr-xr-x root:root /usr/libexec/kmem-build/verify-kmem.sh",
      "drwxr-xr-x root:root /var/lib/kubelet",
    ]);
    expect(await rpmQuery(x86.file, ["--configfiles"])).toBe("/etc/sysconfig/kubelet");
    expect(await rpmQuery(arm.file, ["-l"])).not.toContain("verify-kmem.sh");
  });

  it("requires what the EL7-era official spec requires, with no rich dependencies", async () => {
    const reqs = (await rpmQuery(x86.file, ["--requires"])).split("\n");
    for (const r of [
      "iptables >= 1.4.21",
      "kubernetes-cni",
      "socat",
      "util-linux",
      "ethtool",
      "iproute",
      "ebtables",
      "conntrack",
    ]) {
      expect(reqs).toContain(r);
    }
    expect(reqs.filter((r) => r.startsWith("("))).toEqual([]);
  });

  it("provides kubelet-nokmem so nodes can tell it apart", async () => {
    const provides = (await rpmQuery(x86.file, ["--provides"])).split("\n");
    expect(provides).toContain("kubelet = 1.20.15-2.nokmem");
    expect(provides).toContain("kubelet-nokmem = 1.20.15-2.nokmem");
  });

  it("needs only rpmlib features EL7's rpm 4.11.3 has", async () => {
    for (const file of [x86.file, arm.file]) {
      const rpmlib = (await rpmQuery(file, ["--requires"]))
        .split("\n")
        .filter((r) => r.startsWith("rpmlib("));
      expect(rpmlib.length).toBeGreaterThan(0);
      for (const req of rpmlib) {
        const [name, op, ver] = req.split(" ");
        const provided = RPM_4_11_RPMLIB[name!];
        expect(provided, `${req} is unknown to rpm 4.11`).toBeDefined();
        expect(op).toBe("<=");
        expect(
          await rpmVercmp(ver!, provided!),
          `${req} needs more than 4.11's ${provided}`,
        ).toBeLessThanOrEqual(0);
      }
    }
  });

  it("uses a gzip payload (level 6) and SHA256 file digests", async () => {
    const qf = ["--qf", "%{PAYLOADCOMPRESSOR} %{PAYLOADFLAGS} %{FILEDIGESTALGO}"];
    expect(await rpmQuery(x86.file, qf)).toBe("gzip 6 8");
    expect(await rpmQuery(arm.file, qf)).toBe("gzip 6 8");
  });

  it("can use an xz payload instead", async () => {
    const out = await tempDir("rpm-xz");
    const r = await buildRpm({
      version: VERSION,
      release: "2.nokmem",
      arch: "amd64",
      binary: kubelet,
      sourceDateEpoch: SDE,
      workDir: out,
      outDir: out,
      compression: "xz",
    });
    expect(await rpmQuery(r.file, ["--qf", "%{PAYLOADCOMPRESSOR}"])).toBe("xz");
    expect(await rpmQuery(r.file, ["--requires"])).toContain("rpmlib(PayloadIsXz) <= 5.2-1");
  });

  it("builds for aarch64 with --target", async () => {
    expect(await rpmQuery(arm.file, ["--qf", "%{ARCH} %{OS}"])).toBe("aarch64 linux");
  });

  it("takes build time and file times from SOURCE_DATE_EPOCH", async () => {
    expect(await rpmQuery(x86.file, ["--qf", "%{BUILDTIME}"])).toBe(String(SDE));
    const mtimes = new Set((await rpmQuery(x86.file, ["--qf", "[%{FILEMTIMES}\n]"])).split("\n"));
    expect([...mtimes]).toEqual([String(SDE)]);
  });

  it("gives byte-identical RPMs when built twice from the same inputs in different directories", async () => {
    const src2 = await tempDir("rpm-src2");
    const kubelet2 = join(src2, "kubelet");
    await copyFile(kubelet, kubelet2);
    await utimes(kubelet2, SDE + 12345, SDE + 12345);
    const work2 = await tempDir("rpm-work2");
    const again = await buildRpm({
      version: VERSION,
      release: defaultRelease(),
      arch: "amd64",
      binary: kubelet2,
      verifyScript,
      evidence: "nokmem marker present (100%)",
      sourceDateEpoch: SDE,
      workDir: work2,
      outDir: join(work2, "out"),
    });
    expect(again.file).not.toBe(x86.file);
    expect(await readdir(work2)).toEqual(["out"]); // the rpmbuild topdir is removed after success
    expect(await sha256File(again.file)).toBe(await sha256File(x86.file));
  });

  it("has systemd scriptlets that work without the systemd rpm macros", async () => {
    const scripts = await rpmQuery(x86.file, ["--scripts"]);
    expect(scripts).toMatch(/postinstall scriptlet \(using \/bin\/sh\)/);
    expect(scripts).toMatch(/preuninstall scriptlet/);
    expect(scripts).toMatch(/postuninstall scriptlet/);
    expect(scripts).not.toMatch(/%\{|%systemd/);

    const bin = await tempDir("fake-systemctl");
    const log = join(bin, "calls");
    await writeFile(join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${log}\n`);
    await chmod(join(bin, "systemctl"), 0o755);
    const runScript = async (tag: string, arg: number, path = bin) => {
      await writeFile(log, "");
      const body = await rpmQuery(x86.file, ["--qf", `%{${tag}}`]);
      await run("/bin/sh", ["-e", "-c", body, "sh", String(arg)], { env: { PATH: path }, extendEnv: false });
      return (await readFile(log, "utf8")).trim().split("\n").filter(Boolean);
    };
    expect(await runScript("POSTIN", 1)).toEqual(["daemon-reload", "preset kubelet.service"]);
    expect(await runScript("POSTIN", 2)).toEqual(["daemon-reload"]);
    expect(await runScript("PREUN", 0)).toEqual([
      "--no-reload disable kubelet.service",
      "stop kubelet.service",
    ]);
    expect(await runScript("PREUN", 1)).toEqual([]);
    expect(await runScript("POSTUN", 1)).toEqual(["daemon-reload"]);
    // No systemctl at all (minimal chroot): every scriptlet still succeeds and does nothing.
    const empty = await tempDir("no-systemctl");
    for (const [tag, arg] of [
      ["POSTIN", 1],
      ["PREUN", 0],
      ["POSTUN", 0],
    ] as const)
      expect(await runScript(tag, arg, empty)).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "installs into a scratch root where the official package puts its files",
    async () => {
      const root = await tempDir("root");
      const db = ["--root", root, "--dbpath", "/var/lib/rpm"];
      await run("rpm", [...db, "--initdb"]);
      await run("rpm", [...db, "-i", "--nodeps", "--noscripts", x86.file]);
      expect(await readFile(join(root, "etc/sysconfig/kubelet"), "utf8")).toBe("KUBELET_EXTRA_ARGS=\n");
      const unit = await readFile(join(root, "usr/lib/systemd/system/kubelet.service"), "utf8");
      for (const line of [
        "ExecStart=/usr/bin/kubelet",
        "Restart=always",
        "StartLimitInterval=0",
        "RestartSec=10",
        "Wants=network-online.target",
        "After=network-online.target",
        "WantedBy=multi-user.target",
      ]) {
        expect(unit.split("\n")).toContain(line);
      }
      expect(await readFile(join(root, "usr/bin/kubelet"), "utf8")).toBe(await readFile(kubelet, "utf8"));
      expect((await stat(join(root, "usr/bin/kubelet"))).mode & 0o777).toBe(0o755);
      expect((await stat(join(root, "usr/libexec/kmem-build/verify-kmem.sh"))).mode & 0o777).toBe(0o755);
      for (const d of [
        "usr/lib/systemd/system/kubelet.service.d",
        "etc/kubernetes/manifests",
        "var/lib/kubelet",
      ]) {
        expect((await stat(join(root, d))).isDirectory()).toBe(true);
      }
      const who = await run("rpm", [...db, "-q", "--whatprovides", "kubelet-nokmem"]);
      expect(who.stdout).toBe("kubelet-1.20.15-2.nokmem.x86_64");
      const verify = await run("rpm", [...db, "-V", "--nodeps", "kubelet"], { allowFailure: true });
      expect(verify.stdout).toBe("");
    },
  );

  it("uses a release that rpm sorts above the official 0 and 1.1", async () => {
    expect(defaultRelease()).toContain("nokmem");
    expect(await rpmVercmp("1.1", defaultRelease())).toBe(-1);
    expect(await rpmVercmp("0", defaultRelease())).toBe(-1);
    expect(await rpmVercmp("1.1", "2.nokmem")).toBe(-1);
    expect(await rpmVercmp("1.1", "1.1.nokmem")).toBe(-1);
    expect(await rpmVercmp("1.1", "1.nokmem")).toBe(1); // why the default is not "1.nokmem"
  });

  it("refuses a binary linked against a glibc newer than EL7's 2.17", async () => {
    expect(
      glibcTooNewForEl7(["libc.so.6(GLIBC_2.2.5)(64bit)", "libc.so.6(GLIBC_2.17)(64bit)", "socat"]),
    ).toBeNull();
    expect(
      glibcTooNewForEl7([
        "libc.so.6(GLIBC_2.34)(64bit)",
        "libc.so.6(GLIBC_2.4)(64bit)",
        "libc.so.6(GLIBC_2.18)",
      ]),
    ).toBe("libc.so.6(GLIBC_2.34)(64bit)");
    const work = await tempDir("rpm-glibc");
    // Debian 12's /bin/true needs GLIBC_2.34: the kind of binary a cgo build on a new distro produces.
    const err = await buildRpm({
      version: VERSION,
      release: "2.nokmem",
      arch: "amd64",
      binary: "/bin/true",
      sourceDateEpoch: SDE,
      workDir: work,
      outDir: join(work, "out"),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect((err as BuildError).message).toMatch(/would not install on EL7: .*GLIBC_2\.\d\d/);
    expect((err as BuildError).hint).toMatch(/KUBE_STATIC_OVERRIDES=kubelet/);
    expect(await stat(join(work, "out")).catch(() => null)).toBeNull();
  });

  it("rejects bad versions, releases and missing inputs with UsageError", async () => {
    const work = await tempDir("rpm-bad");
    const base = {
      version: VERSION,
      release: "2.nokmem",
      arch: "amd64" as const,
      binary: kubelet,
      sourceDateEpoch: SDE,
      workDir: work,
      outDir: work,
    };
    await expect(buildRpm({ ...base, version: "v1.20.15" })).rejects.toThrow(UsageError);
    await expect(buildRpm({ ...base, version: "1.21.0-rc.0" })).rejects.toThrow(UsageError);
    await expect(buildRpm({ ...base, release: "2" })).rejects.toThrow(/must carry the mark "nokmem"/);
    await expect(buildRpm({ ...base, release: "2-nokmem" })).rejects.toThrow(UsageError);
    await expect(buildRpm({ ...base, binary: join(work, "nope") })).rejects.toThrow(
      /kubelet binary not found/,
    );
    await expect(buildRpm({ ...base, verifyScript: join(work, "nope.sh") })).rejects.toThrow(
      /verify script not found/,
    );
    await expect(buildRpm({ ...base, arch: "mips" as "amd64" })).rejects.toThrow(/unsupported architecture/);
    await mkdir(join(work, "with space"));
    await expect(buildRpm({ ...base, workDir: join(work, "with space") })).rejects.toThrow(/whitespace/);
  });
});
