/**
 * `kmem-build verify`: runs scripts/verify-kmem.sh (the one implementation of the node checks) on this
 * host or on many nodes over ssh, and renders what it returns.
 */
import { constants } from "node:fs";
import { access, lstat, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
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
import {
  renderBrief,
  renderFleet,
  samplingPlan,
  samplingProgress,
  type SamplingPlan,
} from "../verify/render.js";
import type { HostOutcome } from "../verify/report.js";
import { LOCAL_HOST, verifyHost } from "../verify/run-host.js";
import {
  SCRIPT_OPTIONS,
  bundledScriptPath,
  checkScriptOptions,
  readChecksums,
  scriptArgs,
} from "../verify/script-args.js";
import { collectHosts } from "../verify/targets.js";
import { checkFileTarget, writeFileSafely } from "../util/fs.js";
import { verifyCluster } from "../verify/cluster-command.js";

interface VerifyOpts {
  ssh: string[];
  hostsFile?: string;
  json?: boolean;
  brief?: boolean;
  rebootRequired?: boolean;
  gate?: boolean;
  verbose?: boolean;
  junit?: string;
  html?: string;
  duration?: string;
  interval?: string;
  checksums?: string;
  expectSha256: string[];
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
  /** The other script options (SCRIPT_OPTIONS), read by scriptArgs. */
  [scriptOption: string]: unknown;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function positiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${text}"`);
  return Number(text);
}

/** Every script option the CLI offers, from the one table (SCRIPT_OPTIONS). */
function addScriptOptions(cmd: Command): Command {
  for (const o of SCRIPT_OPTIONS) {
    if (o.reach === "none") continue;
    const spec = o.value ? `${o.flag} <${o.value}>` : o.flag;
    if (o.repeatable) cmd.option(spec, o.help, collect, []);
    else cmd.option(spec, o.help);
  }
  return cmd;
}

export function registerVerify(program: Command): void {
  const cmd = program
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
      "--junit <file>",
      "write JUnit XML: one testcase per host x check, and one per host for its fix state",
    )
    .option(
      "--html <file>",
      "write a self-contained HTML report: memory bars per pod/container (rss, cache, kmem against the limit), OOM kills, fix state, checks",
    );
  addScriptOptions(cmd)
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
(an unknown fix state is 2; over hosts: 1 if any host has a problem, else 2 if any host is unknown,
else 0). With --gate: 0 only when every node is fixed or not-affected. Which option reaches the
script how, and the exit code of each fix state: docs/verify.md.`,
    )
    .action(async (opts: VerifyOpts) => {
      process.exitCode = await verify(opts);
    });
}

/**
 * Every file verify writes on this machine, checked before any node is asked (a fleet or a
 * --duration can take long): its directory exists, is a directory and is writable; the file is not
 * a directory. --prometheus is a path on the node: the script checks it there before it samples.
 */
export async function checkOutputFiles(o: { junit?: string; html?: string }): Promise<void> {
  const outputs = [
    ["--junit", o.junit],
    ["--html", o.html],
  ].filter((x): x is [string, string] => x[1] !== undefined);
  for (const [flag, file] of outputs) {
    if (file === "" || file.endsWith("/"))
      throw new UsageError(`${flag} "${file}" is not a file name`, "name the file to write");
    const dir = dirname(resolve(file));
    const st = await stat(dir).catch(() => null);
    if (!st)
      throw new UsageError(
        `${flag} ${file}: no directory ${dir}`,
        "create the directory first, or name a file in one that exists",
      );
    if (!st.isDirectory()) throw new UsageError(`${flag} ${file}: ${dir} is not a directory`);
    try {
      await access(dir, constants.W_OK | constants.X_OK);
    } catch {
      throw new UsageError(
        `${flag} ${file}: cannot write in ${dir}`,
        "name a file in a directory you may write",
      );
    }
    if ((await lstat(file).catch(() => null))?.isDirectory())
      throw new UsageError(`${flag} ${file} is a directory`, "name the file to write");
    // a link or a device is refused now, and again when the file is written
    await checkFileTarget(file, flag);
  }
  if (outputs.length === 2 && resolve(outputs[0]![1]) === resolve(outputs[1]![1]))
    throw new UsageError("--junit and --html name the same file");
}

async function verify(o: VerifyOpts): Promise<number> {
  if ([o.json, o.brief, o.rebootRequired].filter(Boolean).length > 1)
    throw new UsageError("choose one of --json, --brief and --reboot-required");
  if (o.cluster) {
    if (o.ssh.length || o.hostsFile) throw new UsageError("choose one of --cluster and --ssh/--hosts-file");
    if (o.rebootRequired)
      throw new UsageError("--reboot-required answers for this host only: use it without --cluster");
    await checkOutputFiles(o);
    return verifyCluster(o);
  }
  if (o.context !== undefined) throw new UsageError("--context needs --cluster");
  if (o.gate && o.rebootRequired) throw new UsageError("choose one of --gate and --reboot-required");
  checkScriptOptions(o);
  if (o.interval !== undefined && o.duration === undefined)
    throw new UsageError("--interval needs --duration");
  const hosts = await collectHosts(o.ssh, o.hostsFile);
  const remote = hosts.length > 0;
  if (o.rebootRequired && (remote || o.junit || o.html || o.kubeconfig))
    throw new UsageError(
      "--reboot-required answers for this host only: use it without --ssh, --hosts-file, --junit, --html and --kubeconfig",
    );
  await checkOutputFiles(o);
  const script = o.script ?? bundledScriptPath();
  const args = scriptArgs(o);
  // The checksum file stays here; nodes get its sums as arguments.
  if (o.checksums) {
    if (remote) for (const e of await readChecksums(o.checksums)) args.push("--expect-sha256", e);
    else args.push("--checksums", o.checksums);
  }
  const sampling = o.duration !== undefined ? samplingPlan(o.duration, o.interval) : null;
  // progress of a long --duration, on a terminal only; stdout keeps the report (never with --json)
  const ticking = !!sampling && !!process.stderr.isTTY && !o.json && !o.quiet;

  if (!remote && !o.junit && !o.html && !o.kubeconfig)
    return runLocalPassthrough(script, args, o, ticking ? sampling : null);

  await requireTools(remote ? ["ssh"] : ["sh"], remote ? "verify nodes over ssh" : "run the verify script");
  const timeoutMs =
    (o.hostTimeout !== undefined
      ? positiveInt(o.hostTimeout, "--host-timeout")
      : 120 + (sampling?.seconds ?? 0)) * 1000;
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
        const started = Date.now();
        const show = () =>
          (task.title = terminalText(
            `${host}: ${samplingProgress(sampling!, (Date.now() - started) / 1000)}`,
          ));
        if (ticking) show();
        const tick = ticking ? setInterval(show, 1000) : undefined;
        try {
          const r = checkedOutcome(await verifyHost(host, { script, args, ssh, timeoutMs, signal }));
          outcomes.set(host, r);
          task.title = terminalText(`${host}: ${r.result}${r.error ? ` (${r.error})` : ""}`);
        } finally {
          clearInterval(tick);
        }
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

  if (o.junit) await writeFileSafely(o.junit, toJUnit(fleet, { gate: !!o.gate }), "--junit");
  if (o.html) await writeFileSafely(o.html, renderHtml(fleet), "--html");
  if (o.json) {
    // Locally the node report itself, as the script prints it; with hosts the fleet report.
    const local = !remote ? fleet.hosts[0]!.report : null;
    process.stdout.write(JSON.stringify(local ?? fleet, null, 2) + "\n");
  } else if (o.brief) process.stdout.write(renderBrief(fleet));
  else process.stdout.write(renderFleet(fleet, o.verbose));
  return fleet.exit_code;
}

/** No hosts, no JUnit: the script's own output, untouched, and its exit code. */
async function runLocalPassthrough(
  script: string,
  args: string[],
  o: VerifyOpts,
  sampling: SamplingPlan | null,
): Promise<number> {
  const fmt = o.json ? ["--json"] : o.brief ? ["--brief"] : o.rebootRequired ? ["--reboot-required"] : [];
  const started = Date.now();
  const line = () => `\r\x1b[2Kverify: ${samplingProgress(sampling!, (Date.now() - started) / 1000)}`;
  const tick = sampling ? setInterval(() => process.stderr.write(line()), 1000) : undefined;
  if (sampling) process.stderr.write(line());
  let res;
  try {
    res = await run("sh", [script, ...args, ...fmt], { allowFailure: true, what: "verify-kmem.sh" });
  } finally {
    clearInterval(tick);
    if (sampling) process.stderr.write("\r\x1b[2K");
  }
  if (res.stdout) process.stdout.write(res.stdout + "\n");
  if (res.stderr) process.stderr.write(res.stderr + "\n");
  if (res.exitCode > 2) {
    process.stderr.write(`verify-kmem.sh exited ${res.exitCode}: could not tell\n`);
    return 2;
  }
  return res.exitCode;
}
