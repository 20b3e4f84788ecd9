/**
 * What an RPM holds, read back from the file (`rpm -qp`): the digest of its /usr/bin/kubelet and
 * its scriptlets, compared with what templates/kubelet.spec.in makes. A kept RPM is reused only
 * when it holds the binary being shipped and runs no script but ours.
 */
import { run } from "../exec.js";
import { readTemplate } from "./template.js";

/** The scriptlet tags rpm 4.11 (EL7) to 4.18 know, with their interpreters where they have one. */
const SCRIPT_TAGS = [
  "PRETRANS",
  "PREIN",
  "POSTIN",
  "PREUN",
  "POSTUN",
  "POSTTRANS",
  "VERIFYSCRIPT",
  "PRETRANSPROG",
  "PREINPROG",
  "POSTINPROG",
  "PREUNPROG",
  "POSTUNPROG",
  "POSTTRANSPROG",
  "VERIFYSCRIPTPROG",
] as const;
/** Triggers of any kind: ours has none. */
const TRIGGER_TAGS = ["TRIGGERSCRIPTS", "FILETRIGGERSCRIPTS", "TRANSFILETRIGGERSCRIPTS"] as const;
const SEP = "@@kmem-build-field@@";

/** Which spec section sets which tag (a scriptlet without -p runs under /bin/sh). */
const SECTION_TAG: Record<string, string> = {
  "%pretrans": "PRETRANS",
  "%pre": "PREIN",
  "%post": "POSTIN",
  "%preun": "PREUN",
  "%postun": "POSTUN",
  "%posttrans": "POSTTRANS",
  "%verifyscript": "VERIFYSCRIPT",
};

/** The scriptlet tags (body and interpreter) a spec file gives its package; every other is "(none)". */
export function scriptletsOfSpec(spec: string): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(SCRIPT_TAGS.map((t) => [t, "(none)"]));
  let tag: string | null = null;
  let body: string[] = [];
  const close = () => {
    if (tag) {
      out[tag] = body.join("\n").trimEnd();
      out[`${tag}PROG`] = "/bin/sh";
    }
    tag = null;
    body = [];
  };
  for (const line of spec.split("\n")) {
    const section = /^%[a-z]+/.exec(line)?.[0];
    const isSection =
      section !== undefined &&
      (section in SECTION_TAG ||
        /^%(prep|build|install|check|clean|files|changelog|description|package|trigger\w*|filetrigger\w*)$/.test(
          section,
        ));
    if (isSection) {
      close();
      tag = SECTION_TAG[section] ?? null;
      continue;
    }
    if (tag) body.push(line);
  }
  close();
  return out;
}

export async function expectedScriptlets(): Promise<Record<string, string>> {
  return scriptletsOfSpec(await readTemplate("kubelet.spec.in"));
}

/** Everything wrong with `rpm` as the package of a kubelet whose sha256 is `binarySha256`; empty when nothing is. */
export async function rpmProblems(rpm: string, binarySha256: string): Promise<string[]> {
  const problems: string[] = [];
  const dump = await run("rpm", ["-qp", "--dump", "--", rpm], { allowFailure: true, env: { LC_ALL: "C" } });
  if (dump.exitCode !== 0) return [`rpm cannot read it (${dump.stderr.split("\n")[0] ?? ""})`];
  // path size mtime digest mode owner group isconfig isdoc rdev symlink
  const kubelet = dump.stdout
    .split("\n")
    .map((l) => l.split(" "))
    .find((f) => f[0] === "/usr/bin/kubelet");
  if (!kubelet) problems.push("it holds no /usr/bin/kubelet");
  else if (kubelet[3] !== binarySha256)
    problems.push(
      `its /usr/bin/kubelet has sha256 ${kubelet[3]?.slice(0, 16)}…, not the binary shipped (${binarySha256.slice(0, 16)}…)`,
    );
  const qf = [...SCRIPT_TAGS.map((t) => `%{${t}}`), ...TRIGGER_TAGS.map((t) => `[%{${t}}]`)].join(SEP);
  const q = await run("rpm", ["-qp", "--qf", qf, "--", rpm], { allowFailure: true, env: { LC_ALL: "C" } });
  if (q.exitCode !== 0)
    return [...problems, `rpm cannot read its scriptlets (${q.stderr.split("\n")[0] ?? ""})`];
  const got = q.stdout.split(SEP);
  const want = await expectedScriptlets();
  SCRIPT_TAGS.forEach((t, i) => {
    if ((got[i] ?? "").trimEnd() !== want[t])
      problems.push(`its ${t} scriptlet is not the one kubelet.spec.in makes`);
  });
  TRIGGER_TAGS.forEach((t, i) => {
    if ((got[SCRIPT_TAGS.length + i] ?? "").trim() !== "") problems.push(`it has ${t} (ours has none)`);
  });
  return problems;
}
