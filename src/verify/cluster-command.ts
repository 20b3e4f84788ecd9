/** `kmem-build verify --cluster`: reads the cluster, writes the outputs asked for, returns the exit code. */
import { existsSync } from "node:fs";
import { requireTools } from "../exec.js";
import { UsageError } from "../errors.js";
import { interruptSignal } from "../signals.js";
import { clusterReport } from "./cluster.js";
import { clusterHtml, clusterJUnit, renderCluster, renderClusterBrief } from "./cluster-render.js";
import { writeFileSafely } from "../util/fs.js";

export interface ClusterVerifyOpts {
  kubeconfig?: string;
  context?: string;
  daemonset?: boolean;
  parallel?: string;
  json?: boolean;
  brief?: boolean;
  verbose?: boolean;
  junit?: string;
  html?: string;
}

export async function verifyCluster(o: ClusterVerifyOpts): Promise<number> {
  if (o.kubeconfig !== undefined && !existsSync(o.kubeconfig))
    throw new UsageError(
      `--kubeconfig ${o.kubeconfig} does not exist`,
      "give the kubeconfig kubectl uses for this cluster",
    );
  if (o.parallel !== undefined && (!/^\d+$/.test(o.parallel) || Number(o.parallel) < 1))
    throw new UsageError(`--parallel must be a positive integer, got "${o.parallel}"`);
  await requireTools(["kubectl"], "read the nodes from the API server");
  const { signal, dispose } = interruptSignal();
  let report;
  try {
    report = await clusterReport(
      { kubeconfig: o.kubeconfig, context: o.context },
      { signal, daemonset: o.daemonset, parallel: o.parallel ? Number(o.parallel) : undefined },
    );
  } finally {
    dispose();
  }
  if (signal.aborted) throw signal.reason;
  if (o.junit) await writeFileSafely(o.junit, clusterJUnit(report), "--junit");
  if (o.html) await writeFileSafely(o.html, clusterHtml(report), "--html");
  if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  else if (o.brief) process.stdout.write(renderClusterBrief(report));
  else process.stdout.write(renderCluster(report, o.verbose));
  return report.exit_code;
}
