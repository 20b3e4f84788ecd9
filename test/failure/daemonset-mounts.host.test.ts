/**
 * A readOnly hostPath is read-only at its top mount only. The kubelet (1.10 – 1.29)
 * has the runtime bind the host path recursively and then remount that one mount read-only (runc:
 * MS_BIND|MS_REC, then MS_REMOUNT|MS_BIND|MS_RDONLY); mounts below it keep their own flags. On cgroup
 * v1, /sys/fs/cgroup is a tmpfs with one mount per controller below it, so a readOnly hostPath of
 * /sys/fs/cgroup leaves memory/ writable in the pod.
 *
 * Reproduced here in a private mount namespace (`unshare --mount`), on this host's real cgroup v1
 * memory hierarchy, with the mounts made the way the runtime makes them, in a scratch root:
 *   - the old layout (a hostPath of /sys/fs/cgroup): a write to memory.limit_in_bytes of a throwaway
 *     child of the test's own memory cgroup succeeds, and the host sees the new limit;
 *   - the layout of the DaemonSet `kmem-build manifests` writes now (every hostPath volume of the
 *     generated 20-daemonset.yaml, read-only where the manifest says so): the same write fails with
 *     EROFS, and the limit is unchanged.
 * The same attempt from inside a real pod is in test/real/cluster.test.ts.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join, posix } from "node:path";
import { parse } from "yaml";
import { kb, tmp, removeTmp } from "./helpers.js";

/** One host mount of the pod: host path, where it appears in the pod, file or directory, read-only. */
interface HostMount {
  hostPath: string;
  mountPath: string;
  file: boolean;
  readOnly: boolean;
}

const MEMORY = "/sys/fs/cgroup/memory";
/** What the manifests mounted before: the whole cgroup tmpfs, "read-only". */
const OLD_LAYOUT: HostMount[] = [
  { hostPath: "/sys/fs/cgroup", mountPath: "/sys/fs/cgroup", file: false, readOnly: true },
];

let base: string;
let child: string; // the throwaway memory cgroup (host path)
let productLayout: HostMount[];
let textfileDir: string | undefined;

/** The hostPath volumes of the generated DaemonSet, with the container's mounts of them. */
async function generatedLayout(dir: string, textfileDir: string): Promise<HostMount[]> {
  const out = join(dir, "manifests");
  const r = await kb([
    "manifests",
    "--out",
    out,
    "--image",
    "busybox:1.36",
    "--textfile-dir",
    textfileDir,
    "--kubelet",
    "/usr/bin/kubelet",
    "--runtime",
    "/usr/sbin/runc",
  ]);
  expect(r.code, r.stderr).toBe(0);
  const ds = parse(await readFile(join(out, "20-daemonset.yaml"), "utf8"));
  expect(ds.kind).toBe("DaemonSet");
  const spec = ds.spec.template.spec;
  const volumes = new Map<string, { path: string; type: string }>(
    spec.volumes
      .filter((v: { hostPath?: unknown }) => v.hostPath)
      .map((v: { name: string; hostPath: { path: string; type: string } }) => [v.name, v.hostPath]),
  );
  const mounts: HostMount[] = [];
  for (const c of spec.containers)
    for (const m of c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]) {
      const v = volumes.get(m.name);
      if (v)
        mounts.push({
          hostPath: v.path,
          mountPath: m.mountPath,
          file: v.type === "File",
          readOnly: !!m.readOnly,
        });
    }
  return mounts;
}

/** Where host path `p` appears in the pod, through each mount that holds it. */
function inPod(layout: HostMount[], p: string): { mount: HostMount; path: string }[] {
  return layout
    .filter((m) => p === m.hostPath || p.startsWith(`${m.hostPath.replace(/\/$/, "")}/`))
    .map((m) => ({ mount: m, path: posix.join(m.mountPath, p.slice(m.hostPath.length)) }));
}

/** A write attempt in the pod: `value` into the file at `path` (pod path), or a new directory there. */
type Attempt = { name: string; path: string } & ({ value: string } | { mkdir: true });

/**
 * In a new mount namespace: a tmpfs as the pod's root, each host mount bound into it as the runtime
 * does (rbind, rprivate, then remount,bind,ro of the top mount only), then the write attempts. Prints
 * the mounts under the root and one line per attempt. The namespace ends with the command.
 */
const POD_SCRIPT = String.raw`
set -eu
root=$1; shift
mount -t tmpfs kmem-build-pod-root "$root"
while [ "$1" != -- ]; do
  src=$1 dst=$root$2 kind=$3 mode=$4; shift 4
  if [ "$kind" = file ]; then mkdir -p "$(dirname "$dst")"; : > "$dst"; else mkdir -p "$dst"; fi
  mount --rbind "$src" "$dst"
  mount --make-rprivate "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
awk -v r="$root" 'index($5, r) == 1 { sub(/,.*/, "", $6); print "mount", substr($5, length(r) + 1), $6 }' /proc/self/mountinfo
while [ $# -gt 0 ]; do
  what=$1 name=$2 path=$root$3 value=$4; shift 4
  if [ "$what" = mkdir ]; then
    if mkdir "$path" 2> "$root/err"; then echo "$name WROTE"; else echo "$name FAILED $(tr '\n' ' ' < "$root/err")"; fi
  elif ( printf '%s\n' "$value" > "$path" ) 2> "$root/err"; then echo "$name WROTE"
  else echo "$name FAILED $(tr '\n' ' ' < "$root/err")"; fi
done
`;

async function asPod(layout: HostMount[], attempts: Attempt[]): Promise<Record<string, string>> {
  const root = await mkdtemp(join(base, "pod-root-"));
  const args: string[] = [];
  for (const m of layout)
    args.push(m.hostPath, m.mountPath, m.file ? "file" : "dir", m.readOnly ? "ro" : "rw");
  args.push("--");
  for (const a of attempts)
    args.push("value" in a ? "write" : "mkdir", a.name, a.path, "value" in a ? a.value : "");
  const r = await execa(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", POD_SCRIPT, "pod", root, ...args],
    {
      reject: false,
    },
  );
  process.stderr.write(`${r.stdout}\n${r.stderr}`);
  expect(r.exitCode, r.stderr).toBe(0);
  // the namespace is gone with its mounts: nothing left mounted on the host
  expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(root);
  await rm(root, { recursive: true, force: true });
  const out: Record<string, string> = { mounts: "" };
  for (const l of r.stdout.split("\n")) {
    if (l.startsWith("mount ")) out.mounts += `${l}\n`;
    else if (l) out[l.split(" ")[0]!] = l.slice(l.indexOf(" ") + 1);
  }
  return out;
}

/** The one pod path through which `layout` shows host path `p`. */
function onlyPath(layout: HostMount[], p: string): string {
  const via = inPod(layout, p);
  expect(via, p).toHaveLength(1);
  return via[0]!.path;
}

beforeAll(async () => {
  const cg = await readFile("/proc/self/cgroup", "utf8");
  const own = /^\d+:memory:(.*)$/m.exec(cg)?.[1];
  expect(own, `no cgroup v1 memory controller in /proc/self/cgroup:\n${cg}`).toBeDefined();
  expect(
    existsSync(join(MEMORY, own!, "memory.limit_in_bytes")),
    `${MEMORY} is not the v1 memory controller`,
  ).toBe(true);
  base = await tmp("ds-mounts");
  child = join(MEMORY, own!, `kmem-build-ro-test-${randomBytes(4).toString("hex")}`);
  await mkdir(child);
  // not under /tmp: the pod has its own /tmp, and the command refuses overlapping mounts
  textfileDir = await mkdtemp("/var/tmp/kmem-build-ds-mounts-textfile-");
  productLayout = await generatedLayout(base, textfileDir);
});

afterAll(async () => {
  if (child) {
    for (const d of ["probe-old", "probe-product"])
      if (existsSync(join(child, d))) await rmdir(join(child, d));
    if (existsSync(child)) await rmdir(child);
    expect(existsSync(child)).toBe(false);
  }
  if (textfileDir) await rm(textfileDir, { recursive: true, force: true });
  await removeTmp();
});

describe("readOnly hostPath mounts, made as the runtime makes them, on the real memory cgroups", () => {
  it("the old layout (/sys/fs/cgroup): the tmpfs is read-only, memory/ below it is not, and a host limit changes", async () => {
    const limitFile = join(child, "memory.limit_in_bytes");
    const before = (await readFile(limitFile, "utf8")).trim();
    const r = await asPod(OLD_LAYOUT, [
      { name: "limit", path: onlyPath(OLD_LAYOUT, limitFile), value: "67108864" },
      // "0" moves the writing subshell, which exits at once
      { name: "procs", path: onlyPath(OLD_LAYOUT, join(child, "cgroup.procs")), value: "0" },
      { name: "mkdir", path: onlyPath(OLD_LAYOUT, join(child, "probe-old")), mkdir: true },
      { name: "tmpfs", path: onlyPath(OLD_LAYOUT, "/sys/fs/cgroup/kmem-build-probe"), mkdir: true },
    ]);
    expect(r.mounts).toContain("mount /sys/fs/cgroup ro\n");
    expect(r.mounts).toContain("mount /sys/fs/cgroup/memory rw\n");
    // the top mount is read-only, as the manifest asked ...
    expect(r.tmpfs).toMatch(/^FAILED .*Read-only file system/);
    // ... and the memory controller below it is not
    expect(r.limit).toBe("WROTE");
    expect(r.procs).toBe("WROTE");
    expect(r.mkdir).toBe("WROTE");
    // the host's own cgroup was changed from the "read-only" mount
    expect((await readFile(limitFile, "utf8")).trim()).toBe("67108864");
    expect(existsSync(join(child, "probe-old"))).toBe(true);
    await rmdir(join(child, "probe-old"));
    await writeFile(limitFile, `${before}\n`);
  });

  it("the generated DaemonSet's layout: the same writes, a new cgroup and release_agent fail with EROFS, the host unchanged", async () => {
    const limitFile = join(child, "memory.limit_in_bytes");
    const agentFile = join(MEMORY, "release_agent");
    const before = (await readFile(limitFile, "utf8")).trim();
    const agent = (await readFile(agentFile, "utf8")).replace(/\n$/, "");
    // the pod sees the memory cgroups through exactly one mount, and the manifest makes it read-only
    expect(inPod(productLayout, limitFile).map((v) => v.mount)).toEqual([
      { hostPath: MEMORY, mountPath: MEMORY, file: false, readOnly: true },
    ]);
    // nothing else of the host's cgroup tree (or /sys) is mounted into the pod
    expect(productLayout.filter((m) => m.hostPath.startsWith("/sys"))).toHaveLength(1);
    const r = await asPod(productLayout, [
      { name: "limit", path: onlyPath(productLayout, limitFile), value: "67108864" },
      { name: "procs", path: onlyPath(productLayout, join(child, "cgroup.procs")), value: "0" },
      { name: "mkdir", path: onlyPath(productLayout, join(child, "probe-product")), mkdir: true },
      // its current value: harmless even if it were written
      { name: "agent", path: onlyPath(productLayout, agentFile), value: agent },
    ]);
    expect(r.mounts).toContain(`mount ${MEMORY} ro\n`);
    // no mount below the memory controller's: read-only all the way down
    expect(r.mounts).not.toContain(`mount ${MEMORY}/`);
    for (const k of ["limit", "procs", "mkdir", "agent"])
      expect(r[k], k).toMatch(/^FAILED .*Read-only file system/);
    expect((await readFile(limitFile, "utf8")).trim()).toBe(before);
    expect(existsSync(join(child, "probe-product"))).toBe(false);
  });
});
