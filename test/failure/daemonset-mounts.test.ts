/**
 * Issue 17 item 6: a readOnly hostPath is read-only at its top mount only. The kubelet (1.10 – 1.29)
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

/**
 * In a new mount namespace: a tmpfs as the pod's root, each host mount bound into it as the runtime
 * does (rbind, rprivate, then remount,bind,ro of the top mount only), then the write attempts. Prints
 * the mounts under the root and one line per attempt. The namespace ends with the command.
 */
const POD_SCRIPT = String.raw`
set -eu
root=$1; shift
mount -t tmpfs kmem-build-pod-root "$root"
while [ $# -gt 3 ] && [ "$1" != -- ]; do
  src=$1 dst=$root$2 kind=$3 mode=$4; shift 4
  if [ "$kind" = file ]; then mkdir -p "$(dirname "$dst")"; : > "$dst"; else mkdir -p "$dst"; fi
  mount --rbind "$src" "$dst"
  mount --make-rprivate "$dst"
  if [ "$mode" = ro ]; then mount -o remount,bind,ro "$dst"; fi
done
shift
limit=$1 value=$2 newdir=$3
awk -v r="$root" 'index($5, r) == 1 { sub(/,.*/, "", $6); print "mount", substr($5, length(r) + 1), $6 }' /proc/self/mountinfo
if ( printf '%s\n' "$value" > "$root$limit" ) 2> "$root/err"; then echo "limit WROTE"
else echo "limit FAILED $(tr '\n' ' ' < "$root/err")"; fi
if mkdir "$root$newdir" 2> "$root/err"; then echo "mkdir WROTE"
else echo "mkdir FAILED $(tr '\n' ' ' < "$root/err")"; fi
`;

async function asPod(
  layout: HostMount[],
  limitFile: string,
  value: string,
  newDir: string,
): Promise<{ mounts: string[]; limit: string; mkdir: string }> {
  const root = await mkdtemp(join(base, "pod-root-"));
  const args: string[] = [];
  for (const m of layout)
    args.push(m.hostPath, m.mountPath, m.file ? "file" : "dir", m.readOnly ? "ro" : "rw");
  const r = await execa(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      POD_SCRIPT,
      "pod",
      root,
      ...args,
      "--",
      limitFile,
      value,
      newDir,
    ],
    { reject: false },
  );
  process.stderr.write(`${r.stdout}\n${r.stderr}`);
  expect(r.exitCode, r.stderr).toBe(0);
  // the namespace is gone with its mounts: nothing left mounted on the host
  expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(root);
  await rm(root, { recursive: true, force: true });
  const lines = r.stdout.split("\n");
  return {
    mounts: lines.filter((l) => l.startsWith("mount ")),
    limit: lines.find((l) => l.startsWith("limit ")) ?? "",
    mkdir: lines.find((l) => l.startsWith("mkdir ")) ?? "",
  };
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
    const [via] = inPod(OLD_LAYOUT, limitFile);
    const r = await asPod(
      OLD_LAYOUT,
      via!.path,
      "67108864",
      inPod(OLD_LAYOUT, join(child, "probe-old"))[0]!.path,
    );
    expect(r.mounts).toContain("mount /sys/fs/cgroup ro");
    expect(r.mounts).toContain("mount /sys/fs/cgroup/memory rw");
    expect(r.limit).toBe("limit WROTE");
    expect(r.mkdir).toBe("mkdir WROTE");
    // the host's own cgroup was changed from the "read-only" mount
    expect((await readFile(limitFile, "utf8")).trim()).toBe("67108864");
    expect(existsSync(join(child, "probe-old"))).toBe(true);
    await rmdir(join(child, "probe-old"));
    await writeFile(limitFile, `${before}\n`);
  });

  it("the generated DaemonSet's layout: the same write and mkdir fail with EROFS, the host limit is unchanged", async () => {
    const limitFile = join(child, "memory.limit_in_bytes");
    const before = (await readFile(limitFile, "utf8")).trim();
    // the pod sees the memory cgroups through exactly one mount, and the manifest makes it read-only
    const via = inPod(productLayout, limitFile);
    expect(via.map((v) => v.mount)).toEqual([
      { hostPath: MEMORY, mountPath: MEMORY, file: false, readOnly: true },
    ]);
    // nothing else of the host's cgroup tree is mounted into the pod
    expect(productLayout.filter((m) => m.hostPath.startsWith("/sys"))).toHaveLength(1);
    const r = await asPod(
      productLayout,
      via[0]!.path,
      "67108864",
      inPod(productLayout, join(child, "probe-product"))[0]!.path,
    );
    expect(r.mounts).toContain(`mount ${MEMORY} ro`);
    // no mount below the memory controller's: read-only all the way down
    expect(r.mounts.filter((l) => l.startsWith(`mount ${MEMORY}/`))).toEqual([]);
    expect(r.limit).toMatch(/^limit FAILED .*Read-only file system/);
    expect(r.mkdir).toMatch(/^mkdir FAILED .*Read-only file system/);
    expect((await readFile(limitFile, "utf8")).trim()).toBe(before);
    expect(existsSync(join(child, "probe-product"))).toBe(false);
  });
});
