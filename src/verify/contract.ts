/**
 * What scripts/verify-kmem.sh reports, as its parts declare it: schemas/verify-contract.json, written
 * by scripts/assemble-verify-kmem.mjs from scripts/verify-kmem/ (checks.tsv, checks/<id>.awk headers,
 * report/fixstate.awk, report/prom.awk, the thresholds of report.awk and lib.awk). Read here, not
 * restated; test/verify/contract.test.ts holds CHECK_IDS and FIX_STATES (literal types for the compiler)
 * equal to it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PKG_ROOT } from "../version.js";

export type Cause = "kernel" | "kubelet" | "runtime";

export interface VerifyContract {
  report_schema: string;
  checks: { id: string; title: string; part: string; causes: Cause[]; thresholds: string[] }[];
  /** The fix wording per cause (a check's remedy when that cause is found). */
  fixes: Record<Cause, string>;
  /** next_step null: made at run time (the package of the kubelet version the node runs). */
  fix_states: { state: string; summary: string; next_step: string | null }[];
  thresholds: {
    LIMIT: number;
    LEAK_WARN: number;
    HEADROOM_USAGE: number;
    HEADROOM_SEEN: number;
    KMEM_SHARE: number;
    OOM_KEEP: number;
  };
  metrics: { name: string; type: "gauge" | "counter" }[];
}

export const CONTRACT_FILE = join(PKG_ROOT, "schemas", "verify-contract.json");
export const CONTRACT: VerifyContract = JSON.parse(readFileSync(CONTRACT_FILE, "utf8"));
