/**
 * `kmem-build verify`: runs scripts/verify-kmem.sh (the one implementation of the node checks) on this
 * host or on many nodes over ssh, and renders what it returns.
 */
import { writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { Listr } from "listr2";
import { progressOptions } from "../progress.js";
import { interruptSignal } from "../signals.js";
import { ToolMissingError, UsageError } from "../errors.js";
import { requireTools, run } from "../exec.js";
import { fleetReport } from "../verify/fleet.js";
import { checkedOutcome } from "../verify/node-report-check.js";
import { terminalText } from "../verify/terminal.js";
import { applyApiNames, podsFromApiServer } from "../verify/kube-names.js";
import { toJUnit } from "../verify/junit.js";
import { renderHtml } from "../verify/html.js";
import { renderBrief, renderFleet } from "../verify/render.js";
import type { HostOutcome } from "../verify/report.js";
import { LOCAL_HOST, verifyHost } from "../verify/run-host.js";
import {
  bundledScriptPath,
  durationSeconds,
  readChecksums,
  scriptArgs,
  type ScriptPassthrough,
} from "../verify/script-args.js";
import { collectHosts } from "../verify/targets.js";
import { verifyCluster } from "../verify/cluster-command.js";

interface VerifyOpts {
  ssh: string[];
  hostsFile?: string;
  json?: boolean;
  brief?: boolean;
  verbose?: boolean;
  junit?: string;
  html?: string;
  prometheus?: string;
  duration?: string;
  interval?: string;
  kubelet?: string;
  runtime: string[];
  binaries: boolean;
  checksums?: string;
  cgroupRoot?: string;
  procRoot?: string;
  kernelLog?: string | false;
  trustKernelLog?: boolean;
  runtimeEndpoint: string[];
  runtimeTimeout?: string;
  kubeconfig?: string;
  cluster?: boolean;
  context?: string;
  daemonset?: boolean;
  script?: string;
  identity?: string;
  port?: string;
  sshOption: string[];
  connectTimeout: string;
  hostTimeout?: string;
  parallel: string;
  sudo?: boolean;
  quiet?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return Number(text);
}

export function registerVerify(program: Command): void {
  program
    .command("verify")
    .description(
      "Check that pod and container memory cgroups charge no kernel memory: runs verify-kmem.sh here, or on nodes over ssh",
    )
    .option(
      "--ssh <dest>",
      "verify this node over ssh (user@host or ssh://user@host:port; repeatable)",
      collect,
      [],
    )
    .option("--hosts-file <file>", "ssh destinations, one per line (# comments)")
    .option(
      "--json",
      "JSON: the node report (schemas/verify-report.schema.json), or a fleet report with hosts",
    )
    .option("--brief", "one line (per host)")
    .option("--verbose", "list every check and every pod/container cgroup")
    .option("--junit <file>", "write JUnit XML: one testcase per host x check")
    .option(
      "--html <file>",
      "write a self-contained HTML report: memory bars per pod/container (rss, cache, kmem against the limit), OOM kills, fix state, checks",
    )
    .option("--prometheus <file>", "write node_exporter textfile metrics on each node (path on the node)")
    .option("--duration <d>", "keep sampling for D (30s, 10m, 1h); FAIL if any sample is non-zero")
    .option("--interval <d>", "time between samples (default 10s)")
    .option("--kubelet <path>", "kubelet binary on the node (default: systemd unit, PATH)")
    .option("--runtime <path>", "runc binary of the container runtime on the node (repeatable)", collect, [])
    .option("--no-binaries", "skip the kubelet and runc binary checks")
    .option("--checksums <file>", "SHA256SUMS of a kmem-build build: the node's kubelet must be listed")
    .option("--cgroup-root <dir>", "memory cgroup hierarchy to scan on the node (default: from mountinfo)")
    .option("--proc-root <dir>", "read /proc files under DIR on the node (test fixtures)")
    .option(
      "--kernel-log <file>",
      "kernel log on the node to read OOM kills from: /var/log/messages, a journalctl -k export, a dmesg dump (default: dmesg, journalctl -k, /var/log/messages)",
    )
    .option("--no-kernel-log", "do not read OOM kills from a kernel log")
    .option(
      "--trust-kernel-log",
      "take kmem-caused kills read from a plain --kernel-log file as proof (FAIL); without it they are a WARN: any local user can write syslog",
    )
    .option(
      "--runtime-endpoint <unix:///path>",
      "container runtime socket on the node to read pod and container names from (as crictl's flag; repeatable, tried in order; default: the usual containerd, CRI-O, docker sockets)",
      collect,
      [],
    )
    .option("--runtime-timeout <s>", "time limit for asking the runtime on the node (default 10)")
    .option(
      "--kubeconfig <file>",
      "also name pods and containers the nodes could not through the API server (kubectl get pods -A, run here)",
    )
    .option(
      "--cluster",
      "every node's fix state from the API server (kubectl get nodes with --kubeconfig/--context): kernel, running kubelet, runtime; no ssh, no agent",
    )
    .option("--context <name>", "with --cluster: the kubeconfig context to use (as kubectl --context)")
    .option("--no-daemonset", "with --cluster: do not read the kmem-build-verify DaemonSet's reports")
    .option("--script <file>", "verify script to run (default: the bundled scripts/verify-kmem.sh)")
    .option("--identity <file>", "ssh private key (ssh -i)")
    .option("--port <n>", "ssh port for every host (ssh -p)")
    .option(
      "--ssh-option <opt>",
      "extra ssh -o option, e.g. StrictHostKeyChecking=no (repeatable)",
      collect,
      [],
    )
    .option("--connect-timeout <s>", "ssh ConnectTimeout in seconds", "10")
    .option("--host-timeout <s>", "give up on a host after S seconds (default: 120 + --duration)")
    .option("--parallel <n>", "hosts checked at once", "16")
    .option("--sudo", "run the script with sudo -n on the nodes")
    .addOption(new Option("--quiet", "no progress output").default(false))
    .addHelpText(
      "after",
      `
Without --ssh/--hosts-file the script runs on this host and its own report is printed.
With hosts, each node gets the script on stdin (ssh DEST sh -s -- ARGS; nothing to install), in parallel;
an unreachable or hanging host is reported UNKNOWN and the others still complete.
Verify exit codes (node-problem-detector convention): 0 OK, 1 a problem was found, 2 could not tell
(over hosts: 1 if any host has a problem, else 2 if any host is unknown, else 0).`,
    )
    .action(async (opts: VerifyOpts) => {
      process.exitCode = await verify(opts);
    });
}

async function verify(o: VerifyOpts): Promise<number> {
  if (o.cluster) {
    if (o.ssh.length || o.hostsFile) throw new UsageError("choose one of --cluster and --ssh/--hosts-file");
    if (o.json && o.brief) throw new UsageError("choose one of --json and --brief");
    return verifyCluster(o);
  }
  if (o.context !== undefined) throw new UsageError("--context needs --cluster");
  if (o.json && o.brief) throw new UsageError("choose one of --json and --brief");
  if (o.duration !== undefined) durationSeconds(o.duration, "--duration");
  if (o.runtimeTimeout !== undefined) durationSeconds(o.runtimeTimeout, "--runtime-timeout");
  for (const e of o.runtimeEndpoint)
    if (!/^unix:\/\/\//.test(e)) throw new UsageError(`bad --runtime-endpoint "${e}" (use unix:///PATH)`);
  if (o.interval !== undefined) {
    if (o.duration === undefined) throw new UsageError("--interval needs --duration");
    durationSeconds(o.interval, "--interval");
  }
  const hosts = await collectHosts(o.ssh, o.hostsFile);
  const remote = hosts.length > 0;
  const script = o.script ?? bundledScriptPath();
  const pass: ScriptPassthrough = {
    duration: o.duration,
    interval: o.interval,
    kubelet: o.kubelet,
    runtime: o.runtime,
    binaries: o.binaries,
    cgroupRoot: o.cgroupRoot,
    procRoot: o.procRoot,
    kernelLog: o.kernelLog,
    trustKernelLog: o.trustKernelLog,
    runtimeEndpoint: o.runtimeEndpoint,
    runtimeTimeout: o.runtimeTimeout,
    prometheus: o.prometheus,
    verbose: o.verbose,
    expectSha256: [],
  };
  const args = scriptArgs(pass);
  // The checksum file stays here; nodes get its sums as arguments.
  if (o.checksums) {
    if (remote) for (const e of await readChecksums(o.checksums)) args.push("--expect-sha256", e);
    else args.push("--checksums", o.checksums);
  }

  if (!remote && !o.junit && !o.html && !o.kubeconfig) return runLocalPassthrough(script, args, o);

  await requireTools(remote ? ["ssh"] : ["sh"], remote ? "verify nodes over ssh" : "run the verify script");
  const timeoutMs =
    (o.hostTimeout !== undefined
      ? positiveInt(o.hostTimeout, "--host-timeout")
      : 120 + (o.duration ? durationSeconds(o.duration, "--duration") : 0)) * 1000;
  const ssh = {
    options: o.sshOption,
    identity: o.identity,
    port: o.port !== undefined ? positiveInt(o.port, "--port") : undefined,
    connectTimeout: positiveInt(o.connectTimeout, "--connect-timeout"),
    sudo: !!o.sudo,
  };
  const targets = remote ? hosts : [LOCAL_HOST];
  const outcomes = new Map<string, HostOutcome>();
  const { signal, dispose } = interruptSignal();
  const list = new Listr(
    targets.map((host) => ({
      title: host,
      task: async (_ctx: unknown, task: { title: string }) => {
        const r = checkedOutcome(await verifyHost(host, { script, args, ssh, timeoutMs, signal }));
        outcomes.set(host, r);
        task.title = terminalText(`${host}: ${r.result}${r.error ? ` (${r.error})` : ""}`);
      },
    })),
    {
      concurrent: positiveInt(o.parallel, "--parallel"),
      exitOnError: false,
      ...progressOptions(!!o.quiet),
    },
  );
  try {
    await list.run();
  } finally {
    dispose();
  }
  if (signal.aborted) throw signal.reason;
  const fleet = fleetReport(targets.map((h) => outcomes.get(h)!));
  if (o.kubeconfig && fleet.hosts.some((h) => h.report?.cgroups.some((c) => c.pod_name === null))) {
    try {
      applyApiNames(fleet, await podsFromApiServer(o.kubeconfig, { signal }));
    } catch (err) {
      if (err instanceof ToolMissingError) throw err;
      // names are a convenience: the verdicts stand without them
      process.stderr.write(`verify: no names from the API server: ${(err as Error).message}\n`);
    }
  }

  if (o.junit) await writeFile(o.junit, toJUnit(fleet));
  if (o.html) await writeFile(o.html, renderHtml(fleet));
  if (o.json) {
    // Locally the node report itself, as the script prints it; with hosts the fleet report.
    const local = !remote ? fleet.hosts[0]!.report : null;
    process.stdout.write(JSON.stringify(local ?? fleet, null, 2) + "\n");
  } else if (o.brief) process.stdout.write(renderBrief(fleet));
  else process.stdout.write(renderFleet(fleet, o.verbose));
  return fleet.exit_code;
}

/** No hosts, no JUnit: the script's own output, untouched, and its exit code. */
async function runLocalPassthrough(script: string, args: string[], o: VerifyOpts): Promise<number> {
  const fmt = o.json ? ["--json"] : o.brief ? ["--brief"] : [];
  const res = await run("sh", [script, ...args, ...fmt], { allowFailure: true, what: "verify-kmem.sh" });
  if (res.stdout) process.stdout.write(res.stdout + "\n");
  if (res.stderr) process.stderr.write(res.stderr + "\n");
  if (res.exitCode > 2) {
    process.stderr.write(`verify-kmem.sh exited ${res.exitCode}: could not tell\n`);
    return 2;
  }
  return res.exitCode;
}
