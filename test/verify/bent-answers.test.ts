/**
 * What another user of the node can put in front of the node script, through the shipped script (and
 * the real CLI): a kernel log anyone can append to flooded with forged memcg OOM reports, a fifo given
 * as --kernel-log, counters with leading zeros. The outputs stay bounded, nothing hangs, and every
 * number is valid JSON and a valid sample value, under gawk, mawk and busybox awk.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { symlinkSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Ajv } from "ajv";
import { CLI, REPO, runJson, runScript, SHELLS } from "./helpers/run-script.js";
import * as S from "./helpers/scenarios.js";

const TMP = mkdtempSync(join(tmpdir(), "verify-bent-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const PATH = process.env.PATH ?? "";

let validate: ReturnType<Ajv["compile"]>;
beforeAll(() => {
  const schema = JSON.parse(readFileSync(join(REPO, "schemas/verify-report.schema.json"), "utf8"));
  validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
});

/** A PATH whose `awk` is the given binary (busybox runs its awk applet under that name). */
function awkPath(awk: string): string {
  const d = join(TMP, `awk-${awk.replace(/\//g, "_")}`);
  mkdirSync(d, { recursive: true });
  if (!existsSync(join(d, "awk"))) symlinkSync(awk, join(d, "awk"));
  return `${d}:${PATH}`;
}
const AWKS = ["/usr/bin/gawk", "/usr/bin/mawk", "/usr/bin/busybox"].filter((a) => existsSync(a));

const uid = (n: number) => `5d1c0b6e-8a3f-4c1e-9f7a-${n.toString(16).padStart(12, "0")}`;
/** n memcg OOM reports of n pods as `logger -t kernel` puts them in /var/log/messages; odd n: kmem-caused. */
function forgedLog(count: number): string {
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    const pod = `/kubepods/burstable/pod${uid(n)}`;
    const k = (m: string) => `Nov 28 03:14:07 node-a kernel: ${m}`;
    out.push(
      k(`Task in ${pod}/c0ffee killed as a result of limit of ${pod}`),
      k("memory: usage 5859473kB, limit 5859473kB, failcnt 1"),
      k(`kmem: usage ${n % 2 ? 3356432 : 0}kB, limit 9007199254740988kB, failcnt 0`),
      k(`Killed process ${1000 + n} (java), UID 1000, total-vm:1kB, anon-rss:1kB, file-rss:0kB`),
    );
  }
  return out.join("\n") + "\n";
}

describe("a kernel log anyone can append to (2,000 forged OOM reports, 2,000 pods)", () => {
  const f = S.centos7Cgroupfs(join(TMP, "flood"));
  const log = join(TMP, "messages");
  writeFileSync(log, forgedLog(2000));

  test.each(AWKS)(
    "with %s: the last 50 kills listed, all counted; JSON, textfile and text stay small",
    (awk) => {
      const env = { ...process.env, PATH: awkPath(awk) };
      const prom = join(TMP, `flood-${awk.replace(/\//g, "_")}.prom`);
      const r = runJson([...f.args, "--kernel-log", log, "--prometheus", prom], { env });
      expect(validate(r.report), JSON.stringify(validate.errors)).toBe(true);
      expect(r.report.oom_kills).toHaveLength(50);
      // the most recent ones, oldest first
      expect(r.report.oom_kills.map((k) => k.pod_uid)).toEqual(
        Array.from({ length: 50 }, (_, i) => uid(1950 + i)),
      );
      expect(r.report.kernel_log).toMatchObject({
        pod_oom_kills: 2000,
        pod_oom_kills_kmem_caused: 1000,
        pod_oom_kills_history: 0,
        pod_oom_kills_not_listed: 1950,
        pod_oom_kills_list_limit: 50,
      });
      const c = r.report.checks.find((x) => x.id === "oom-kills-kmem")!;
      expect(c.status).toBe("WARN"); // a plain file: not proof
      expect(c.seen).toContain(
        "2000 memcg OOM kills of pod/container cgroups (the last 50 listed in full, 1950 earlier ones only counted), 1000 with kernel memory >= 10% of usage",
      );
      expect(r.stdout.length).toBeLessThan(100_000);
      const t = readFileSync(prom, "utf8");
      const series = t.split("\n").filter((l) => l && !l.startsWith("#"));
      expect(series.filter((l) => l.startsWith("kmem_build_oom_kills")).length).toBeLessThanOrEqual(
        3 * 50 + 4,
      );
      expect(t).toContain('kmem_build_oom_kills_all_total{source="file",authenticated="false"} 2000\n');
      expect(t).toContain('kmem_build_oom_kills_all_kmem_total{source="file",authenticated="false"} 1000\n');
      expect(t).toContain('kmem_build_oom_kills_not_listed{source="file",authenticated="false"} 1950\n');
      expect(t.length).toBeLessThan(100_000);
      const human = runScript([...f.args, "--kernel-log", log, "--verbose"], { env });
      expect(human.stdout).toContain("(2000, the last 50 listed; 1950 earlier ones only counted)");
      expect(human.stdout.match(/^(\(no time\)|[0-9]{4}-[0-9]{2}-[0-9]{2}T)/gm)?.length ?? 0).toBe(50);
    },
  );

  test("its temp files stay small too: the run completes under a 128 KiB file-size limit (the DaemonSet's /tmp is 16 MiB of memory)", () => {
    // dash counts ulimit -f in 512-byte blocks; a write past the limit fails (SIGXFSZ/EFBIG)
    const r = spawnSync(
      "dash",
      [
        "-c",
        'ulimit -f 256; exec dash "$0" "$@"',
        join(REPO, "scripts/verify-kmem.sh"),
        ...f.args,
        "--kernel-log",
        log,
        "--json",
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(1);
    const rep = JSON.parse(r.stdout) as { oom_kills: unknown[]; kernel_log: { pod_oom_kills: number } };
    expect(rep.oom_kills).toHaveLength(50);
    expect(rep.kernel_log.pod_oom_kills).toBe(2000);
  });

  test("the fleet HTML says how many kills were counted but not listed", () => {
    const html = join(TMP, "flood.html");
    const r = spawnSync(
      process.execPath,
      [CLI, "verify", ...f.args, "--kernel-log", log, "--html", html, "--quiet"],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(1);
    const page = readFileSync(html, "utf8");
    expect(page).toContain(
      "1950 earlier kills counted, not listed (the node lists the last 50 of 2000; 1000 caused by kernel memory in all).",
    );
    expect(page.match(/<tr class="(kmem-caused|kmem-unauth)?"><td>/g)).toHaveLength(50);
  });
});

describe("--kernel-log that is not a regular file", () => {
  const f = S.centos7Cgroupfs(join(TMP, "fifo"));
  test.each(Object.entries(SHELLS))("a fifo is refused at once under %s, nothing hangs", (_n, shell) => {
    const fifo = join(TMP, `log-${_n.replace(/ /g, "-")}.fifo`);
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const t0 = Date.now();
    const r = runScript([...f.args, "--kernel-log", fifo], { shell });
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `verify-kmem: --kernel-log '${fifo}' is not a regular file (a fifo or device is never read; save the log to a file first)`,
    );
    expect(r.stdout).toBe("");
  });
  test("a device is refused the same way", () => {
    const r = runScript([...f.args, "--kernel-log", "/dev/zero"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--kernel-log '/dev/zero' is not a regular file");
  });
});

describe("counters with leading zeros", () => {
  const f = S.centos7Cgroupfs(join(TMP, "zeros"));
  // the burstable pod's counters as a kernel never writes them, but a fixture or an odd kernel may
  const pod = join(f.cg, "kubepods", "burstable", `pod${S.UID.B}`);
  beforeAll(() => {
    expect(statSync(pod).isDirectory()).toBe(true);
    writeFileSync(join(pod, "memory.kmem.usage_in_bytes"), "00004096\n");
    writeFileSync(join(pod, "memory.kmem.failcnt"), "0000\n");
    writeFileSync(join(pod, "memory.usage_in_bytes"), "000012345\n");
    const stat = readFileSync(join(pod, "memory.stat"), "utf8")
      .replace(/^total_rss \d+$/m, "total_rss 000100")
      .replace(/^total_cache \d+$/m, "total_cache 07");
    writeFileSync(join(pod, "memory.stat"), stat);
  });

  test.each(AWKS)("valid JSON and textfile numbers without the zeros, with %s", (awk) => {
    const env = { ...process.env, PATH: awkPath(awk) };
    const prom = join(TMP, `zeros-${awk.replace(/\//g, "_")}.prom`);
    for (const [name, shell] of Object.entries(SHELLS)) {
      const r = runJson([...f.args, "--prometheus", prom], { env, shell }); // throws on invalid JSON
      expect(validate(r.report), `${awk} ${name}`).toBe(true);
      const row = r.report.cgroups.find((c) => c.level === "pod" && c.pod_uid === S.UID.B)!;
      expect(row, `${awk} ${name}`).toMatchObject({
        kmem_usage_bytes: 4096,
        kmem_failcnt: 0,
        usage_bytes: 12345,
        total_rss_bytes: 100,
        total_cache_bytes: 7,
      });
      expect(r.stdout, `${awk} ${name}`).not.toMatch(/": -?0[0-9]/);
      const t = readFileSync(prom, "utf8");
      expect(t, `${awk} ${name}`).not.toMatch(/ -?0[0-9]+$/m);
      expect(t).toMatch(
        new RegExp(
          `^kmem_build_cgroup_kmem_usage_bytes\\{level="pod",qos="burstable",pod_uid="${S.UID.B}",[^}]*\\} 4096$`,
          "m",
        ),
      );
    }
  });
});

describe("a node that answers far more than any report (the CLI's side)", () => {
  test("100 MB from the node: that node is UNKNOWN with the reason, the CLI stops reading (bounded memory)", () => {
    const fake = join(TMP, "flood-node.sh");
    writeFileSync(fake, "head -c 100000000 /dev/zero | tr '\\000' x\n");
    const junit = join(TMP, "flood.xml");
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "maxrss %M",
        process.execPath,
        CLI,
        "verify",
        "--script",
        fake,
        "--json",
        "--junit",
        junit,
        "--quiet",
      ],
      { encoding: "utf8", timeout: 120_000, maxBuffer: 256 << 20 },
    );
    expect(r.status, r.stderr.slice(-2000)).toBe(2);
    const fleet = JSON.parse(r.stdout) as { hosts: { result: string; error: string; report: unknown }[] };
    expect(fleet.hosts[0]).toMatchObject({
      result: "UNKNOWN",
      report: null,
      error: "report too large: the node sent more than 16 MiB (a report is far smaller); stopped reading",
    });
    expect(r.stdout.length).toBeLessThan(10_000);
    // 2.3 GB before the bound; a Node process with a 16 MiB string stays far below 400 MB
    const rss = Number(/maxrss (\d+)/.exec(r.stderr)![1]) * 1024;
    expect(rss).toBeLessThan(400 * 1024 * 1024);
    expect(readdirSync(TMP)).toContain("flood.xml");
  });
});
