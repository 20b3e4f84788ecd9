// Package version holds the version of this example build, stamped by the linker like the
// Kubernetes version package: hack/lib/version.sh passes -X k8s.io/kubernetes/pkg/version.<var>=...
package version

// Defaults for a build without version information. A `git archive` would replace the
// $Format:%H$ placeholders; this tree is never a git checkout, so they stay as they are.
var (
	gitMajor     string // major version, always numeric
	gitMinor     string // minor version, numeric possibly followed by "+"
	gitVersion   = "v0.0.0-master+$Format:%H$"
	gitCommit    = "$Format:%H$" // sha1 from git, output of $(git rev-parse HEAD)
	gitTreeState = ""            // state of git tree, either "clean" or "dirty"

	buildDate = "1970-01-01T00:00:00Z" // build date in ISO8601 format
)
