/* eslint-disable @typescript-eslint/no-explicit-any -- parsed YAML is walked by path */
/**
 * `kmem-build manifests`: what it writes is checked against the Kubernetes API types of the versions
 * the recipes cover (kubernetes-types, generated from each release's OpenAPI spec), and the
 * node-problem-detector plugin, monitor config and PrometheusRule against what they rely on.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { execa } from "execa";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { cli, REPO } from "../helpers/cli.js";
import { loadRecipes } from "../../src/recipes/load.js";

/** kubernetes-types releases on npm (devDependencies, one alias per Kubernetes minor). */
const SCHEMAS: Record<string, string> = {
  "1.17": "kubernetes-types-1.17",
  "1.21": "kubernetes-types-1.21",
  "1.30": "kubernetes-types",
};
/** Which schema versions stand for each recipe's range (the oldest on npm is 1.17). */
const SCHEMAS_FOR_RECIPE: Record<string, string[]> = {
  "patch-era": ["1.17"],
  "tag-era": ["1.17", "1.21"],
  "post-fix": ["1.21", "1.30"],
};
const TYPE_OF: Record<string, [string, string]> = {
  "v1/Namespace": ["core/v1", "Namespace"],
  "v1/ConfigMap": ["core/v1", "ConfigMap"],
  "apps/v1/DaemonSet": ["apps/v1", "DaemonSet"],
  "v1/ServiceAccount": ["core/v1", "ServiceAccount"],
  "rbac.authorization.k8s.io/v1/ClusterRole": ["rbac/v1", "ClusterRole"],
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ["rbac/v1", "ClusterRoleBinding"],
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

async function tmp(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `kmem-manifests-${prefix}-`));
}

async function generate(
  args: string[],
): Promise<{ out: string; code: number; stdout: string; stderr: string }> {
  const out = join(await tmp("out"), "manifests");
  const r = await cli(["manifests", "--out", out, ...args]);
  return { out, ...r };
}

async function objectsIn(dir: string): Promise<K8sObject[]> {
  const objs: K8sObject[] = [];
  for (const f of (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort())
    for (const d of parseAllDocuments(await readFile(join(dir, f), "utf8"))) {
      if (d.errors.length) throw new Error(`${f}: ${d.errors[0]!.message}`);
      objs.push(d.toJS() as K8sObject);
    }
  return objs;
}

/**
 * Type-checks each object as an object literal of its kind: TypeScript rejects a field the
 * version does not have (excess property), a wrong type and a missing required field.
 */
async function typecheck(objs: { obj: unknown; type: [string, string] }[], version: string): Promise<string> {
  const dir = await tmp(`tsc-${version}`);
  const pkg = SCHEMAS[version]!;
  const lines: string[] = [];
  objs.forEach(({ obj, type }, i) => {
    lines.push(`import type { ${type[1]} as T${i} } from "${pkg}/${type[0]}";`);
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(obj, null, 2)};`);
  });
  await writeFile(join(dir, "objects.ts"), lines.join("\n") + "\n");
  await writeFile(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        module: "esnext",
        moduleResolution: "bundler",
        types: [],
        baseUrl: ".",
        paths: { "*": [join(REPO, "node_modules", "*")] },
      },
      files: ["objects.ts"],
    }),
  );
  const r = await execa(join(REPO, "node_modules", ".bin", "tsc"), ["-p", dir], { reject: false });
  return (r.stdout + r.stderr).trim();
}

describe("kmem-build manifests", () => {
  let out: string;
  let objs: K8sObject[];
  let script: string;

  beforeAll(async () => {
    const r = await generate([
      "--namespace",
      "kmem-build",
      "--interval",
      "2m",
      "--image",
      "registry.example.com/tools/busybox:1.36",
      "--kubelet",
      "/usr/local/bin/kubelet",
      "--runtime",
      "/usr/bin/runc",
      "--runtime",
      "/usr/libexec/docker/docker-runc-current",
      "--textfile-dir",
      "/var/lib/node_exporter/textfile_collector",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    out = r.out;
    objs = await objectsIn(out);
    script = await readFile(join(REPO, "scripts", "verify-kmem.sh"), "utf8");
  });

  it("writes the documented files, and only the applicable ones at the top level", async () => {
    expect((await readdir(out)).sort()).toEqual([
      ".kmem-build-manifests",
      "00-namespace.yaml",
      "05-rbac.yaml",
      "10-configmap.yaml",
      "20-daemonset.yaml",
      "node-problem-detector",
      "prometheus",
      "rules",
    ]);
    expect((await readdir(join(out, "prometheus"))).sort()).toEqual(["prometheusrule.yaml"]);
    expect((await readdir(join(out, "rules"))).sort()).toEqual(["kmem-build.rules.yaml"]);
    expect((await readdir(join(out, "node-problem-detector"))).sort()).toEqual([
      "daemonset-patch.json",
      "kmem-build-monitor.json",
    ]);
    expect(objs.map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([
      "v1/Namespace",
      "v1/ServiceAccount",
      "rbac.authorization.k8s.io/v1/ClusterRole",
      "rbac.authorization.k8s.io/v1/ClusterRoleBinding",
      "v1/ConfigMap",
      "apps/v1/DaemonSet",
    ]);
    for (const o of objs.slice(1).filter((o) => !o.kind.startsWith("Cluster")))
      expect(o.metadata.namespace).toBe("kmem-build");
  });

  it("the ConfigMap carries the verify script shipped with the tool, byte for byte", () => {
    const cm = objs.find((o) => o.kind === "ConfigMap") as K8sObject & { data: Record<string, string> };
    expect(cm.data["verify-kmem.sh"]).toBe(script);
    expect(Object.keys(cm.data).sort()).toEqual([
      "kmem-build-monitor.json",
      "npd-plugin.sh",
      "verify-kmem.sh",
      "verify-loop.sh",
    ]);
  });

  it("--no-node-api: no token in the pod and no RBAC objects", async () => {
    const r = await generate([
      "--no-node-api",
      "--textfile-dir",
      "/var/lib/node_exporter/textfile_collector",
    ]);
    expect(r.code).toBe(0);
    const all = await objectsIn(r.out);
    expect(all.map((o) => o.kind)).toEqual(["ConfigMap", "DaemonSet"]);
    const pod = (all[1] as any).spec.template.spec;
    expect([pod.automountServiceAccountToken, pod.serviceAccountName]).toEqual([false, undefined]);
  });

  it("--host-network (nodes without a network plugin) puts the pod in the node's network namespace; not by default", async () => {
    const r = await generate([
      "--host-network",
      "--textfile-dir",
      "/var/lib/node_exporter/textfile_collector",
    ]);
    expect(r.code).toBe(0);
    const ds = (await objectsIn(r.out)).find((o) => o.kind === "DaemonSet") as any;
    expect(ds.spec.template.spec.hostNetwork).toBe(true);
  });

  it("the DaemonSet runs everywhere, mounts exactly what is read, read-only (but the textfile directory), and drops every capability", () => {
    const ds = objs.find((o) => o.kind === "DaemonSet") as any;
    const pod = ds.spec.template.spec;
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.hostPID).toBeUndefined();
    expect(pod.hostIPC).toBeUndefined();
    expect(pod.hostNetwork).toBeUndefined();
    expect(ds.spec.template.metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]).toBe(
      "runtime/default",
    );
    // the token may only read nodes (get, no list or watch): the pod's own, by the name it is given
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe("kmem-build-verify");
    const role = objs.find((o) => o.kind === "ClusterRole") as any;
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }]);
    const binding = objs.find((o) => o.kind === "ClusterRoleBinding") as any;
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: pod.serviceAccountName, namespace: "kmem-build" },
    ]);
    const c = pod.containers[0];
    expect(c.image).toBe("registry.example.com/tools/busybox:1.36");
    expect(c.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    expect(c.resources.limits).toEqual({ cpu: "500m", memory: "64Mi" });
    const hostVolumes = pod.volumes.filter((v: any) => v.hostPath);
    const writable = c.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.name);
    expect(writable.sort()).toEqual(["textfile", "tmp"]);
    expect(hostVolumes.map((v: any) => [v.hostPath.path, v.hostPath.type]).sort()).toEqual([
      ["/proc/1/mountinfo", "File"],
      ["/proc/cgroups", "File"],
      ["/proc/cmdline", "File"],
      ["/proc/sys/kernel/osrelease", "File"],
      ["/sys/fs/cgroup/memory", "Directory"],
      ["/usr/bin", "Directory"],
      ["/usr/libexec/docker", "Directory"],
      ["/usr/local/bin", "Directory"],
      ["/var/lib/node_exporter/textfile_collector", "DirectoryOrCreate"],
    ]);
    // each host file at /host<path>, the memory cgroups at their own path
    const at = (name: string) => c.volumeMounts.find((m: any) => m.name === name).mountPath;
    for (const v of hostVolumes) {
      const want =
        v.name === "memory-cgroup" || v.name === "textfile" ? v.hostPath.path : `/host${v.hostPath.path}`;
      expect(at(v.name)).toBe(want);
    }
    expect(c.env).toContainEqual({
      name: "KMEM_NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
    expect(c.securityContext.runAsUser).toBe(0);
    expect(c.args).toEqual([
      "--cache-dir",
      "/tmp",
      "--kubelet",
      "/host/usr/local/bin/kubelet",
      "--runtime",
      "/host/usr/bin/runc",
      "--runtime",
      "/host/usr/libexec/docker/docker-runc-current",
    ]);
    expect(c.env).toContainEqual({ name: "KMEM_INTERVAL", value: "120" });
    expect(c.env).toContainEqual({
      name: "KMEM_TEXTFILE",
      value: "/var/lib/node_exporter/textfile_collector/kmem-build.prom",
    });
    // every option the loop passes exists in the script
    for (const opt of ["--cache-dir", "--kubelet", "--runtime", "--proc-root", "--prometheus"])
      expect(script).toContain(`    ${opt})`);
  });

  for (const [version] of Object.entries(SCHEMAS)) {
    it(`every object is valid against the Kubernetes ${version} API types`, async () => {
      const typed = objs.map((obj) => ({ obj, type: TYPE_OF[`${obj.apiVersion}/${obj.kind}`]! }));
      expect(typed.every((t) => t.type)).toBe(true);
      // the node-problem-detector patch adds a Volume and a VolumeMount: those are checked too
      const patch = JSON.parse(
        await readFile(join(out, "node-problem-detector", "daemonset-patch.json"), "utf8"),
      ) as {
        op: string;
        path: string;
        value: unknown;
      }[];
      for (const p of patch) {
        if (p.path.endsWith("/volumes/-"))
          typed.push({ obj: p.value as K8sObject, type: ["core/v1", "Volume"] });
        if (p.path.endsWith("/volumeMounts/-"))
          typed.push({ obj: p.value as K8sObject, type: ["core/v1", "VolumeMount"] });
      }
      expect(await typecheck(typed, version)).toBe("");
    });
  }

  it("the schema check fails on a field the version does not have (so it can fail)", async () => {
    const ds = structuredClone(objs.find((o) => o.kind === "DaemonSet")) as any;
    ds.spec.template.spec.containers[0].securityContext.seccompProfile = { type: "RuntimeDefault" }; // new in 1.19
    const typed = [{ obj: ds, type: TYPE_OF["apps/v1/DaemonSet"]! }];
    expect(await typecheck(typed, "1.17")).toMatch(/seccompProfile/);
    expect(await typecheck(typed, "1.21")).toBe("");
    ds.spec.template.spec.tolerations = [{ operator: "Exists", tolerationSeconds: "5" }];
    expect(await typecheck(typed, "1.30")).toMatch(
      /TS2322: Type 'string' is not assignable to type 'number'/,
    );
  });

  it("--kernel-log mounts the log's directory read-only and passes the file to the script", async () => {
    const r = await generate(["--kernel-log", "/var/log/messages"]);
    expect(r.code).toBe(0);
    const ds = (await objectsIn(r.out)).find((o) => o.kind === "DaemonSet") as any;
    const c = ds.spec.template.spec.containers[0];
    expect(c.args.slice(-2)).toEqual(["--kernel-log", "/host/var/log/messages"]);
    expect(c.volumeMounts).toContainEqual({ name: "host-log", mountPath: "/host/var/log", readOnly: true });
    expect(ds.spec.template.spec.volumes).toContainEqual({
      name: "host-log",
      hostPath: { path: "/var/log", type: "Directory" },
    });
    // the kernel log's timestamps need the boot time: /proc/stat, on its own
    expect(ds.spec.template.spec.volumes).toContainEqual({
      name: "host-proc-stat",
      hostPath: { path: "/proc/stat", type: "File" },
    });
    expect(script).toContain("    --kernel-log)");
  });

  it("covers every recipe with at least one schema version", async () => {
    const recipes = await loadRecipes();
    for (const r of recipes) expect(SCHEMAS_FOR_RECIPE[r.name]?.length, r.name).toBeGreaterThan(0);
  });

  it("the PrometheusRule alerts on metrics the script writes, with the intervals given", async () => {
    const text = await readFile(join(out, "prometheus", "prometheusrule.yaml"), "utf8");
    const rule = parseAllDocuments(text)[0]!.toJS() as any;
    expect(rule.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(rule.kind).toBe("PrometheusRule");
    expect(rule.metadata.namespace).toBe("kmem-build");
    const plain = parseAllDocuments(
      await readFile(join(out, "rules", "kmem-build.rules.yaml"), "utf8"),
    )[0]!.toJS() as any;
    expect(plain.groups).toEqual(rule.spec.groups);
    const rules = rule.spec.groups[0].rules as {
      alert: string;
      expr: string;
      for?: string;
      labels: object;
      annotations: object;
    }[];
    expect(rules.map((r) => r.alert)).toEqual([
      "KmemFixInstallKubelet",
      "KmemFixRestartKubelet",
      "KmemFixReboot",
      "KmemFixRuntime",
      "KmemChargedByKernel",
      "KmemFixStateUnknown",
      "KmemChargedToPodCgroups",
      "KubeletNotNokmem",
      "KmemCausedOOMKill",
      "KmemCheckNotRunning",
    ]);
    // kmem_build_fix_state: being added to the script (fix-state issue); the rules already follow it
    const written = new Set([...(script.match(/kmem_build_[a-z_]+/g) ?? []), "kmem_build_fix_state"]);
    for (const r of rules) {
      expect(r.labels).toHaveProperty("severity");
      expect(r.annotations).toHaveProperty("summary");
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      const metrics = r.expr.match(/kmem_build_[a-z_]+/g) ?? [];
      expect(metrics.length, r.alert).toBeGreaterThan(0);
      for (const m of metrics)
        expect(written.has(m), `${r.alert}: ${m} is not written by verify-kmem.sh`).toBe(true);
    }
    // the check runs every 2m: stale after two intervals
    expect(rules.at(-1)!.expr).toBe("time() - max by (instance) (kmem_build_verify_timestamp_seconds) > 240");
    expect(text).not.toMatch(/@[A-Z_]+@/);
  });

  it("the node-problem-detector monitor config is one NPD accepts: custom plugin, permanent rule with a default condition", async () => {
    const cfg = JSON.parse(
      await readFile(join(out, "node-problem-detector", "kmem-build-monitor.json"), "utf8"),
    );
    const cm = objs.find((o) => o.kind === "ConfigMap") as K8sObject & { data: Record<string, string> };
    expect(JSON.parse(cm.data["kmem-build-monitor.json"]!)).toEqual(cfg);
    expect(cfg.plugin).toBe("custom");
    const goDuration = /^(\d+(h|m|s))+$/;
    expect(cfg.pluginConfig.invoke_interval).toBe("2m");
    expect(cfg.pluginConfig.timeout).toMatch(goDuration);
    expect(cfg.pluginConfig.max_output_length).toBe(80);
    const conditions = (cfg.conditions as { type: string }[]).map((c) => c.type);
    expect(conditions).toEqual(["KernelMemoryAccounting"]);
    for (const r of cfg.rules) {
      expect(r.type).toBe("permanent");
      expect(conditions).toContain(r.condition);
      expect(r.timeout).toMatch(goDuration);
      // NPD refuses a rule timeout above the global one
      expect(parseInt(r.timeout)).toBeLessThanOrEqual(parseInt(cfg.pluginConfig.timeout));
      // the plugin is the ConfigMap's, at the path the patch mounts it
      expect(r.path).toBe("/etc/kmem-build/npd-plugin.sh");
      expect(r.args).toEqual(["/var/lib/node_exporter/textfile_collector/kmem-build.prom", "300"]);
    }
    const patch = JSON.parse(
      await readFile(join(out, "node-problem-detector", "daemonset-patch.json"), "utf8"),
    );
    expect(patch.map((p: { path: string }) => p.path)).toContain(
      "/spec/template/spec/containers/0/command/-",
    );
    expect(JSON.stringify(patch)).toContain('"mountPath":"/etc/kmem-build"');
  });

  it("templates are shellcheck-clean", async () => {
    const dir = join(REPO, "templates", "manifests");
    const files = (await readdir(dir)).filter((f) => f.endsWith(".sh")).map((f) => join(dir, f));
    expect(files.length).toBe(2);
    const r = await execa("shellcheck", files, { reject: false });
    expect(r.stdout + r.stderr).toBe("");
  });
});

describe("the node-problem-detector plugin", () => {
  const plugin = join(REPO, "templates", "manifests", "npd-plugin.sh");
  const now = () => Math.floor(Date.now() / 1000);
  const textfile = (code: number, ts: number, statuses: [string, string][]) =>
    [
      "# HELP kmem_build_verify_exit_code Exit code of verify-kmem.sh: 0 OK, 1 problem, 2 unknown",
      "# TYPE kmem_build_verify_exit_code gauge",
      `kmem_build_verify_exit_code ${code}`,
      `kmem_build_verify_timestamp_seconds ${ts}`,
      ...statuses.map(([c, s]) => `kmem_build_check_status{check="${c}",status="${s}"} 1`),
      "",
    ].join("\n");

  for (const shell of ["dash", "busybox sh"]) {
    it(`follows NPD's exit-code contract under ${shell}`, async () => {
      const dir = await tmp("npd");
      const run = async (content: string | null, maxAge = "600") => {
        const f = join(dir, "kmem-build.prom");
        if (content !== null) await writeFile(f, content);
        const [cmd, ...pre] = shell.split(" ");
        const r = await execa(
          cmd!,
          [...pre, plugin, content === null ? join(dir, "missing.prom") : f, maxAge],
          {
            reject: false,
          },
        );
        return { code: r.exitCode, out: r.stdout };
      };
      expect(await run(textfile(0, now(), [["pod-cgroups-kmem", "PASS"]]))).toEqual({
        code: 0,
        out: "no kernel memory charged to pod or container cgroups",
      });
      expect(
        await run(
          textfile(1, now(), [
            ["pod-cgroups-kmem", "FAIL"],
            ["kubelet-binary", "FAIL"],
            ["leaked-memcgs", "PASS"],
          ]),
        ),
      ).toEqual({ code: 1, out: "kmem check FAIL: pod-cgroups-kmem,kubelet-binary" });
      expect((await run(textfile(2, now(), []))).code).toBe(2);
      const stale = await run(textfile(0, now() - 1000, []));
      expect(stale.code).toBe(2);
      expect(stale.out).toMatch(/^kmem-build-verify result is 10\d\ds old \(stale\)$/);
      expect(await run(null)).toEqual({
        code: 2,
        out: expect.stringMatching(/^no kmem-build-verify result at /),
      });
      expect((await run("garbage\n")).code).toBe(2);
    });
  }
});

describe("kmem-build manifests: errors", () => {
  it("refuses bad options with exit 2 and writes nothing", async () => {
    for (const [args, msg] of [
      [["--namespace", "Kube_System"], /--namespace "Kube_System" is not a Kubernetes namespace name/],
      [["--interval", "5s"], /--interval must be between 10s and 24h/],
      [["--interval", "often"], /bad --interval "often"/],
      [["--textfile-dir", "relative/dir"], /--textfile-dir must be an absolute path/],
      [
        ["--textfile-dir", "/sys/fs/cgroup/x"],
        /--textfile-dir \/sys\/fs\/cgroup\/x is under the host system directory \/sys/,
      ],
      [["--kubelet", "/usr/../bin/kubelet"], /must not contain "\.\."/],
    ] as const) {
      const r = await generate([...args]);
      expect(r.stderr).toMatch(msg);
      expect(r.code).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
  });

  it("refuses host system directories for --textfile-dir and --kernel-log, naming the flag, the value and what to pass", async () => {
    const textfileHint = /hint: pass the directory node_exporter's --collector\.textfile\.directory names/;
    for (const dir of ["/", "/etc", "/etc/cron.d", "/usr/bin", "/bin", "/sbin", "/lib64", "/boot", "/root"]
      .concat([
        "/var/lib/kubelet",
        "/var/lib/kubelet/pods",
        "/etc/kubernetes/pki",
        "/proc",
        "/sys",
        "/dev",
        "/var",
      ])
      .concat(["/run/containerd", "/var/lib"])) {
      const r = await generate(["--textfile-dir", dir]);
      expect(r.stderr, dir).toMatch(
        new RegExp(
          `^error: --textfile-dir ${dir.replace(/\//g, "\\/")} is (a host system directory|under the host system directory /[a-z]+)`,
        ),
      );
      expect(r.stderr, dir).toMatch(textfileHint);
      expect(r.code, dir).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
    for (const file of [
      "/etc/kubernetes/pki/ca.key",
      "/etc/kubernetes/pki/etcd/x.log",
      "/messages",
      "/var/lib/kubelet/x.log",
      "/root/kern.log",
      "/proc/kmsg",
      "/var/kern.log",
    ]) {
      const r = await generate(["--kernel-log", file]);
      expect(r.stderr, file).toMatch(
        new RegExp(
          `^error: --kernel-log ${file.replace(/\//g, "\\/")}: its directory .* a host system directory`,
        ),
      );
      expect(r.stderr, file).toMatch(
        /hint: pass the syslog file the kernel writes to, e.g\. \/var\/log\/messages/,
      );
      expect(r.code, file).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
    // a binary's directory is mounted too
    const k = await generate(["--kubelet", "/etc/kubernetes/pki/kubelet"]);
    expect(k.stderr).toMatch(
      /--kubelet \/etc\/kubernetes\/pki\/kubelet: its directory \/etc\/kubernetes\/pki is under \/etc/,
    );
    expect(k.code).toBe(2);
  });

  it("a textfile directory must be one of its own (its name says so), a kernel log a file under /var/log: places whose writing or reading gives root are refused without being listed", async () => {
    // none of these is in the list of system directories: the rule refuses them by what they are not
    for (const dir of [
      "/var/spool/cron",
      "/var/spool/cron/crontabs",
      "/opt/bin",
      "/var/lib/rancher/k3s/data/current/bin",
      "/var/lib/rancher/rke2/bin",
      "/var/lib/k0s/bin",
      "/snap/bin",
      "/var/lib/rpm",
      "/home/alice/.ssh",
      "/var/lib/node_exporter/.ssh",
      "/var/lib/node_exporter/textfile/.config",
    ]) {
      const r = await generate(["--textfile-dir", dir]);
      expect(r.stderr, dir).toMatch(
        new RegExp(
          `^error: --textfile-dir ${dir.replace(/[/.]/g, "\\$&")} (does not look like a directory of its own for textfiles|is inside the hidden directory \\.[a-z]+)`,
        ),
      );
      expect(r.stderr, dir).toMatch(
        /hint: pass the directory node_exporter's --collector\.textfile\.directory names/,
      );
      expect(r.code, dir).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
    for (const dir of [
      "/var/lib/node_exporter/textfile_collector",
      "/var/lib/prometheus/node-exporter",
      "/var/lib/node_exporter",
      "/srv/monitoring/kmem-build",
      "/opt/textfiles",
    ]) {
      const r = await generate(["--textfile-dir", dir]);
      expect(r.stderr, dir).toBe("");
      expect(r.code, dir).toBe(0);
    }
    for (const file of [
      "/var/lib/rancher/k3s/server/tls/server-ca.key",
      "/var/lib/rancher/rke2/server/tls/serving-kube-apiserver.key",
      "/var/lib/rancher/k3s/agent/kubelet.kubeconfig",
      "/var/lib/k0s/pki/ca.key",
      "/opt/k8s/messages",
    ]) {
      const r = await generate(["--kernel-log", file]);
      expect(r.stderr, file).toContain(`error: --kernel-log ${file} is not under /var/log: its directory`);
      expect(r.stderr, file).toMatch(/hint: pass the syslog file the kernel writes to/);
      expect(r.code, file).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
    const hidden = await generate(["--kernel-log", "/var/log/.secrets/token"]);
    expect(hidden.stderr).toContain(
      "error: --kernel-log /var/log/.secrets/token: .secrets is a hidden directory or file, not a log",
    );
    expect(hidden.code).toBe(2);
    for (const file of ["/var/log/messages", "/var/log/kern.log", "/var/log/syslog"]) {
      const r = await generate(["--kernel-log", file]);
      expect(r.code, file).toBe(0);
    }
  });

  it("refuses mount paths that clash with the pod's own (duplicate or overlapping), exit 2", async () => {
    for (const [args, msg] of [
      [
        ["--textfile-dir", "/tmp/textfile"],
        /--textfile-dir \/tmp\/textfile overlaps \/tmp, which the pod already mounts/,
      ],
      [["--textfile-dir", "/host/proc"], /--textfile-dir \/host\/proc overlaps \/host\/proc\/1\/mountinfo/],
      [["--textfile-dir", "/host"], /--textfile-dir \/host overlaps /],
      [
        ["--textfile-dir", "/data", "--runtime", "/data/runc/runc"],
        /--textfile-dir \/data overlaps the host directory \/data\/runc/,
      ],
      [
        ["--textfile-dir", "/srv/bin", "--kubelet", "/srv/bin/kubelet"],
        /--textfile-dir \/srv\/bin overlaps the host directory \/srv\/bin of --kubelet\/--runtime \/srv\/bin, which the pod must only read/,
      ],
      [
        ["--kernel-log", "/var/log/k8s/messages", "--kubelet", "/var/log/k8s/kubelet"],
        /--kernel-log mounts \/host\/var\/log\/k8s, which --kubelet\/--runtime \/var\/log\/k8s already mounts/,
      ],
    ] as const) {
      const r = await generate([...args]);
      expect(r.stderr, args.join(" ")).toMatch(msg);
      expect(r.stderr).toMatch(/hint: /);
      expect(r.code).toBe(2);
      expect(existsSync(r.out)).toBe(false);
    }
  });

  it("--image: a digest pins the image (accepted and validated)", async () => {
    const digest = "sha256:" + "0123456789abcdef".repeat(4);
    for (const ref of [
      `registry.example.com:5000/tools/busybox:1.36@${digest}`,
      `busybox@${digest}`,
      "localhost/kmem-build-node-busybox:1",
    ]) {
      const r = await generate(["--image", ref]);
      expect(r.code, r.stderr).toBe(0);
      const ds = (await objectsIn(r.out)).find((o) => o.kind === "DaemonSet") as any;
      expect(ds.spec.template.spec.containers[0].image).toBe(ref);
    }
    for (const [ref, why] of [
      ["busybox@sha256:1234", /the digest must be sha256: and 64 lower-case hex digits, not "sha256:1234"/],
      [`busybox@md5:${"0".repeat(32)}`, /the digest must be sha256:/],
      [`busybox@${digest.toUpperCase()}`, /the digest must be sha256:/],
      ["Busybox:1.36", /bad name "Busybox"/],
      ["busybox:1.36;rm", /bad tag "1\.36;rm"/],
      ["a b", /is not an image reference/],
    ] as const) {
      const r = await generate(["--image", ref]);
      expect(r.stderr, ref).toMatch(why);
      expect(r.stderr).toMatch(/hint: pass \[registry\[:port\]\/\]name\[:tag\]\[@sha256:/);
      expect(r.code).toBe(2);
    }
  });

  it("refuses a directory it did not write; replaces its own earlier output whole", async () => {
    const parent = await tmp("existing");
    const out = join(parent, "m");
    await mkdir(out);
    await writeFile(join(out, "mine.yaml"), "x: 1\n");
    const r = await cli(["manifests", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds files kmem-build manifests did not write/);
    expect(await readdir(out)).toEqual(["mine.yaml"]);

    const fresh = join(parent, "n");
    expect((await cli(["manifests", "--out", fresh, "--interval", "1m"])).code).toBe(0);
    expect((await cli(["manifests", "--out", fresh, "--interval", "10m"])).code).toBe(0);
    expect(await readFile(join(fresh, "20-daemonset.yaml"), "utf8")).toContain('value: "600"');
    expect((await readdir(parent)).sort()).toEqual(["m", "n"]); // no staging or old directory left
  });

  it("a write failure is exit 1 and leaves nothing behind", async () => {
    const parent = await tmp("enotdir");
    await writeFile(join(parent, "file"), "not a directory\n");
    const r = await cli(["manifests", "--out", join(parent, "file", "m")]);
    expect(r.stderr).toMatch(/^error: cannot create .*file/);
    expect(r.code).toBe(1);
    expect(await readdir(parent)).toEqual(["file"]);
  });
});
