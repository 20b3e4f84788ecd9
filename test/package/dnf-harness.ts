/**
 * A real yum-family client (dnf 4) working on an installroot: stub packages for kubelet's EL7
 * dependencies, an "official" repository with official-like kubelet packages, and dnf runs.
 */
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { run, type RunResult } from "../../src/exec.js";

/** What kubelet's Requires name on EL7, each as its own stub package (conntrack comes from conntrack-tools). */
const EL7_DEPS: [name: string, version: string, provides?: string][] = [
  ["bash", "4.2.46", "/bin/sh"],
  ["iptables", "1.4.21"],
  ["kubernetes-cni", "0.8.7"],
  ["socat", "1.7.3.2"],
  ["util-linux", "2.23.2"],
  ["ethtool", "4.8"],
  ["iproute", "4.11.0"],
  ["ebtables", "2.0.10"],
  ["conntrack-tools", "1.4.4", "conntrack"],
];

async function rpmbuild(top: string, specName: string, spec: string): Promise<string[]> {
  for (const d of ["SPECS", "SOURCES", "BUILD", "RPMS"]) await mkdir(join(top, d), { recursive: true });
  const file = join(top, "SPECS", specName);
  await writeFile(file, spec);
  await run("rpmbuild", ["-bb", "--define", `_topdir ${top}`, file], { env: { LC_ALL: "C" } });
  const out: string[] = [];
  for (const e of await readdir(join(top, "RPMS"), { recursive: true, withFileTypes: true }))
    if (e.isFile() && e.name.endsWith(".rpm")) out.push(join(e.parentPath, e.name));
  return out.sort();
}

/** One noarch package per EL7 dependency, files-less: only their Provides matter to the solver. */
export async function buildStubs(top: string): Promise<string[]> {
  const sub = EL7_DEPS.map(
    ([name, version, provides]) =>
      `%package -n ${name}\nVersion: ${version}\nRelease: 0.stub\nSummary: EL7 ${name} stand-in\n` +
      (provides ? `Provides: ${provides}\n` : "") +
      `%description -n ${name}\nstub\n%files -n ${name}\n`,
  );
  const spec =
    "Name: el7-stubs\nVersion: 1\nRelease: 0\nSummary: stubs\nLicense: none\nBuildArch: noarch\n" +
    "%description\nstubs\n" +
    sub.join("");
  return rpmbuild(top, "stubs.spec", spec);
}

/**
 * A kubelet like the official legacy-repo package (Release 0): the official file list and
 * Requires, `KUBELET_EXTRA_ARGS=` as %config(noreplace), a dummy binary saying which it is.
 */
export async function buildOfficialLike(top: string, version: string): Promise<string> {
  const spec = `Name: kubelet
Version: ${version}
Release: 0
Summary: Container cluster management
License: ASL 2.0
URL: https://kubernetes.io
BuildArch: x86_64
Requires: iptables >= 1.4.21
Requires: kubernetes-cni >= 0.8.6
Requires: socat
Requires: util-linux
Requires: ethtool
Requires: iproute
Requires: ebtables
Requires: conntrack
%global debug_package %{nil}
%global __os_install_post %{nil}
%description
The node agent of Kubernetes, the container cluster manager (official-like test package).
%install
install -d %{buildroot}/usr/bin %{buildroot}/usr/lib/systemd/system/kubelet.service.d %{buildroot}/etc/sysconfig %{buildroot}/etc/kubernetes/manifests %{buildroot}/var/lib/kubelet
printf '#!/bin/sh\\necho "kubelet v${version} official (kmem accounting on)"\\n' > %{buildroot}/usr/bin/kubelet
chmod 0755 %{buildroot}/usr/bin/kubelet
printf '[Service]\\nExecStart=/usr/bin/kubelet\\n' > %{buildroot}/usr/lib/systemd/system/kubelet.service
echo KUBELET_EXTRA_ARGS= > %{buildroot}/etc/sysconfig/kubelet
%files
/usr/bin/kubelet
/usr/lib/systemd/system/kubelet.service
%dir /usr/lib/systemd/system/kubelet.service.d
%config(noreplace) /etc/sysconfig/kubelet
%dir /etc/kubernetes/manifests
%dir /var/lib/kubelet
`;
  const [rpm] = await rpmbuild(top, `kubelet-${version}.spec`, spec);
  return rpm!;
}

/** An official-like kubectl: another package of the official repository that must keep updating from there. */
export async function buildOfficialKubectl(top: string, version: string): Promise<string> {
  const spec = `Name: kubectl
Version: ${version}
Release: 0
Summary: Command-line utility for interacting with a Kubernetes cluster.
License: ASL 2.0
BuildArch: x86_64
%global debug_package %{nil}
%global __os_install_post %{nil}
%description
kubectl (official-like test package).
%install
install -d %{buildroot}/usr/bin
printf '#!/bin/sh\\necho "kubectl v${version}"\\n' > %{buildroot}/usr/bin/kubectl
chmod 0755 %{buildroot}/usr/bin/kubectl
%files
/usr/bin/kubectl
`;
  const [rpm] = await rpmbuild(top, `kubectl-${version}.spec`, spec);
  return rpm!;
}

/** (Re)writes the repository metadata of a directory of RPMs, as the official repository publishes. */
export async function publish(dir: string, rpms: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const r of rpms) await copyFile(r, join(dir, r.slice(r.lastIndexOf("/") + 1)));
  await run("createrepo_c", ["--no-database", dir], { env: { LC_ALL: "C" } });
}

export interface Dnf {
  root: string;
  reposDir: string;
  /** A directory holding `yum`: dnf with these same options, for running documented command lines. */
  binDir: string;
  /** Runs dnf on the installroot; never throws on a non-zero exit (the tests look at it). */
  (args: string[]): Promise<RunResult & { output: string }>;
}

/** The host's dnf-plugins-core versionlock plugin, the one dnf plugin the harness may load. */
const VERSIONLOCK_PLUGIN = "/usr/lib/python3/dist-packages/dnf-plugins/versionlock.py";

/**
 * dnf on a fresh installroot with our own config and repos.d (nothing from the host's), EL7's
 * releasever and arch, and busybox as the /bin/sh the scriptlets run with (chrooted by rpm).
 * `versionlock`: load the versionlock plugin (alone) with its lock list in the installroot's
 * /etc/dnf/plugins/versionlock.list, as `yum versionlock` keeps it on a node.
 */
export async function makeDnf(base: string, o: { versionlock?: boolean } = {}): Promise<Dnf> {
  const root = join(base, "root");
  const reposDir = join(base, "repos.d");
  const binDir = join(base, "bin");
  const conf = join(base, "dnf.conf");
  await mkdir(join(root, "bin"), { recursive: true });
  await mkdir(reposDir, { recursive: true });
  await mkdir(binDir, { recursive: true });
  await copyFile("/bin/busybox", join(root, "bin", "sh"));
  // The scriptlets redirect to /dev/null; systemctl records its calls so a test can see what they did.
  await mkdir(join(root, "dev"));
  await run("mknod", ["-m", "666", join(root, "dev", "null"), "c", "1", "3"]);
  await mkdir(join(root, "usr", "bin"), { recursive: true });
  await mkdir(join(root, "var", "log"), { recursive: true });
  await writeFile(
    join(root, "usr", "bin", "systemctl"),
    '#!/bin/sh\necho "$*" >> /var/log/systemctl.calls\n',
    {
      mode: 0o755,
    },
  );
  let plugins = "plugins=0\n";
  if (o.versionlock) {
    const pluginDir = join(base, "plugins");
    const confDir = join(base, "plugins.d");
    const locklist = join(root, "etc", "dnf", "plugins", "versionlock.list");
    await mkdir(pluginDir);
    await mkdir(confDir);
    await mkdir(dirname(locklist), { recursive: true });
    await writeFile(locklist, "");
    await symlink(VERSIONLOCK_PLUGIN, join(pluginDir, "versionlock.py"));
    await writeFile(join(confDir, "versionlock.conf"), `[main]\nenabled=1\nlocklist=${locklist}\n`);
    plugins = `plugins=1\npluginpath=${pluginDir}\npluginconfpath=${confDir}\n`;
  }
  // No host plugins: the host's plugin configuration must not change what the transaction does.
  await writeFile(conf, `[main]\ngpgcheck=1\ninstall_weak_deps=False\nkeepcache=False\n${plugins}`);
  const options = [
    `--installroot=${root}`,
    `--config=${conf}`,
    `--setopt=reposdir=${reposDir}`,
    `--setopt=cachedir=${join(base, "cache")}`,
    "--releasever=7",
    "--forcearch=x86_64",
    "--assumeyes",
  ];
  const env = { LC_ALL: "C.UTF-8", TZ: "UTC" };
  await writeFile(
    join(binDir, "yum"),
    `#!/bin/sh\nLC_ALL=C.UTF-8 TZ=UTC exec dnf ${options.map(shellQuote).join(" ")} "$@"\n`,
    { mode: 0o755 },
  );
  const dnf = async (args: string[]) => {
    const r = await run("dnf", [...options, ...args], { env, allowFailure: true, timeoutMs: 120_000 });
    return { ...r, output: `${r.stdout}\n${r.stderr}` };
  };
  return Object.assign(dnf, { root, reposDir, binDir });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** What the scriptlets asked systemctl to do so far, one call a line; the log is emptied. */
export async function systemctlCalls(root: string): Promise<string[]> {
  const log = join(root, "var", "log", "systemctl.calls");
  const text = await readFile(log, "utf8").catch(() => "");
  await writeFile(log, "");
  return text.split("\n").filter(Boolean);
}

/** The lines a package's scriptlets printed to the operator in a dnf transaction. */
export function scriptletOutput(output: string, nevra: string): string[] {
  const lines = output.split("\n");
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (!l.includes(`Running scriptlet: ${nevra}`)) return;
    for (const next of lines.slice(i + 1)) {
      if (/^\s{2}\S.*: /.test(next) || /^(Upgraded|Downgraded|Installed|Removed):/.test(next)) break;
      if (next.trim()) out.push(next);
    }
  });
  return out;
}

/** `rpm -q` inside the installroot. */
export async function installed(root: string, what: string, args: string[] = []): Promise<string> {
  const r = await run("rpm", ["--root", root, "-q", ...args, what], {
    env: { LC_ALL: "C" },
    allowFailure: true,
  });
  return r.stdout.trim();
}
