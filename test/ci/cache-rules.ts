/**
 * The rules the workflows' use of the GitHub Actions cache must keep (docs/ci-and-releases.md,
 * "The shared Go build cache"), as a checker returning what is wrong, so the tests can show it
 * rejects a broken workflow too.
 */
import { parse } from "yaml";

/** The release workflow's own runs on the default branch: the only ones that save. */
export const RELEASE_REF =
  "github.event_name == 'schedule' || (github.event_name == 'workflow_dispatch' && github.ref == format('refs/heads/{0}', github.event.repository.default_branch))";
export const SAVE_IF = `steps.bound.outputs.save == 'true' && (${RELEASE_REF})`;
export const CACHE_PATH = "${{ runner.temp }}/kmem-build-cache/go/verified";
export const KEY = "${{ steps.gocache.outputs.key }}";
export const PREFIX = "${{ steps.gocache.outputs.prefix }}";
/** What the cache directory holds that must never leave the runner (or come back from the cache). */
export const NEVER_SAVED = ["verdicts", "hmac", "binaries", "rpms", "in-use", "usage", "sources", "work"];

type Step = {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
};
type Workflow = { on: Record<string, unknown> | string[] | string; jobs: Record<string, { steps?: Step[] }> };

const PULL_REQUEST = ["pull_request", "pull_request_target"];
const triggers = (wf: Workflow) =>
  typeof wf.on === "string" ? [wf.on] : Array.isArray(wf.on) ? wf.on : Object.keys(wf.on ?? {});
const paths = (s: Step) =>
  String(s.with?.path ?? "")
    .split("\n")
    .map((p) => p.trim())
    .filter(Boolean);

/** Everything wrong with one workflow file's cache steps (empty: nothing). */
export function cacheRuleErrors(file: string, text: string): string[] {
  const wf = parse(text) as Workflow;
  const errors: string[] = [];
  const fromPr = triggers(wf).some((t) => PULL_REQUEST.includes(t));
  for (const [job, j] of Object.entries(wf.jobs ?? {})) {
    const steps = j.steps ?? [];
    const at = (s: Step) => `${file} jobs.${job} step "${s.name ?? s.uses}"`;
    const restores = steps.filter((s) => s.uses?.startsWith("actions/cache/restore@"));
    const saves = steps.filter((s) => s.uses?.startsWith("actions/cache/save@"));
    for (const s of steps)
      if (s.uses?.startsWith("actions/cache@"))
        errors.push(`${at(s)}: actions/cache saves in its post step whatever the ref; use restore and save`);
    if (fromPr && (restores.length || saves.length))
      errors.push(`${file} jobs.${job}: a workflow run by pull requests uses the cache`);
    for (const s of saves) {
      if (s.if !== SAVE_IF)
        errors.push(`${at(s)}: saves under "${s.if ?? "(always)"}", not only on the release ref`);
      if (s.with?.key !== KEY) errors.push(`${at(s)}: key ${s.with?.key} is not the key step's`);
    }
    for (const s of restores) {
      if (s.with?.key !== KEY) errors.push(`${at(s)}: key ${s.with?.key} is not the key step's`);
      if (s.with?.["restore-keys"] !== PREFIX)
        errors.push(`${at(s)}: restore-keys ${s.with?.["restore-keys"]} is not the key step's prefix`);
    }
    for (const s of [...restores, ...saves]) {
      const p = paths(s);
      if (p.length !== 1 || p[0] !== CACHE_PATH)
        errors.push(`${at(s)}: caches ${JSON.stringify(p)}, not only ${CACHE_PATH}`);
      for (const bad of NEVER_SAVED.filter((n) => p.some((x) => x.includes(n))))
        errors.push(`${at(s)}: caches ${bad}`);
    }
    if (!saves.length) continue;
    const index = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const order = [
      index((s) => s.id === "gocache"),
      index((s) => restores.includes(s)),
      index((s) => s.name === "Build kubelet"),
      index((s) => s.id === "bound"),
      index((s) => saves.includes(s)),
    ];
    if (order.some((i) => i < 0) || order.some((v, i) => i > 0 && v <= order[i - 1]!))
      errors.push(
        `${file} jobs.${job}: not key, restore, build, bound, save in that order (${order.join(", ")})`,
      );
    const bound = steps.find((s) => s.id === "bound");
    if (bound && bound.if !== RELEASE_REF)
      errors.push(`${file} jobs.${job}: the bound step runs under "${bound.if}"`);
    if (bound && !/node lib\/cli\.js cache prune --max-size "\$MAX_SIZE"/.test(bound.run ?? ""))
      errors.push(`${file} jobs.${job}: the bound step does not prune to a size`);
  }
  return errors;
}
