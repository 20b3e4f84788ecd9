// Renders templates/kubelet.spec.in exactly as src/package/rpm.ts does for a build of the
// example release, with the project's own template code (dist/), and prints it on stdout.
//   node bench/lib/render-spec.mjs VERSION RELEASE EVIDENCE
import { readTemplate, renderTemplate } from "../../dist/src/package/template.js";

const [version = "1.20.15", release = "2.nokmem", evidence = "nokmem-variant-linked"] = process.argv.slice(2);
// rpm.ts specText(): one line, `%` doubled.
const text = evidence.replace(/\s+/g, " ").trim().replace(/%/g, "%%");
process.stdout.write(
  renderTemplate(
    await readTemplate("kubelet.spec.in"),
    { VERSION: version, RELEASE: release, WITH_VERIFY: "1", EVIDENCE: text },
    "kubelet.spec.in",
  ),
);
