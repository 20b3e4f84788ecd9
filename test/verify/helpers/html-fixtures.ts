/** Reports for the HTML tests: a real script report of a fixture node, and a hostile copy of it. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostOutcome, NodeReport } from "../../../src/verify/report.js";
import { el7Messages } from "./oom-logs.js";
import { runJson } from "./run-script.js";
import * as S from "./scenarios.js";

export const EVIL = `<script>alert(1)</script><img src=x onerror="fetch('http://evil.example/')">'\``;

/** A real report of the script on the CentOS 7 fixture with its EL7 kernel log (3 OOM kills, 1 kmem-caused). */
export function el7Report(dir: string): { report: NodeReport; args: string[] } {
  const f = S.centos7Cgroupfs(join(dir, "node"));
  const log = join(dir, "messages");
  writeFileSync(log, el7Messages());
  const args = [...f.args, "--kernel-log", log];
  return { report: runJson(args).report, args };
}

export function outcome(report: NodeReport, host = "node-1"): HostOutcome {
  return { host, result: report.result, exit_code: report.exit_code, error: null, seconds: 1, report };
}

/** The same report with hostile text from the node everywhere a string comes from it. */
export function hostile(r: NodeReport): NodeReport {
  const h = structuredClone(r) as NodeReport & { fix_state?: unknown };
  h.node.hostname = EVIL;
  h.checks[0]!.seen = EVIL;
  h.checks[0]!.remedy = EVIL;
  h.cgroups[0]!.path = EVIL;
  h.cgroups[0]!.pod_name = EVIL;
  h.cgroups[0]!.pod_namespace = EVIL;
  h.oom_kills[0]!.pod_name = EVIL;
  h.fix_state = "install";
  h.next_step = EVIL;
  return h;
}
