// Command kubelet is the kmem-build example "kubelet": not a kubelet, but a binary built like one
// (same make interface, same vendored runc memory-cgroup code path) so kmem-build can rebuild,
// package and inspect it.
//
//	kubelet                          prints a note and exits 0
//	kubelet --version[=raw]          prints "Kubernetes <version>" (raw: all version fields)
//	kubelet --fake-cgroup-root DIR   sets up DIR/memory/kubepods/pod-example through the vendored
//	                                 runc cgroup manager (Apply + Set), as kubelet does for a pod,
//	                                 and reports memory.kmem.limit_in_bytes afterwards: "-1" means
//	                                 kernel memory accounting was switched on. DIR must be a plain
//	                                 directory: cgroupfs/sysfs/procfs are refused, real cgroups are
//	                                 never touched.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer/cgroups"
	"github.com/opencontainers/runc/libcontainer/cgroups/fs"
	"github.com/opencontainers/runc/libcontainer/configs"

	"k8s.io/kubernetes/pkg/version"
)

// versionValue implements --version, --version=true, --version=false and --version=raw.
type versionValue string

func (v *versionValue) String() string   { return string(*v) }
func (v *versionValue) IsBoolFlag() bool { return true }
func (v *versionValue) Set(s string) error {
	switch s {
	case "true", "false", "raw":
		*v = versionValue(s)
		return nil
	}
	return fmt.Errorf("invalid value %q: want true, false or raw", s)
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	flags := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	ver := versionValue("false")
	flags.Var(&ver, "version", "Print version information and quit (--version=raw for all fields)")
	fakeRoot := flags.String("fake-cgroup-root", "",
		"Plain directory standing in for /sys/fs/cgroup: create the example pod cgroup below it")
	memory := flags.Int64("memory-limit", 128<<20, "Memory limit of the example pod cgroup, in bytes")
	kmem := flags.Int64("kernel-memory-limit", 0, "Kernel memory limit of the example pod cgroup (0: none)")
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}

	switch ver {
	case "true":
		fmt.Printf("Kubernetes %s\n", version.Get())
		return 0
	case "raw":
		fmt.Printf("%#v\n", version.Get())
		return 0
	}

	if *fakeRoot == "" {
		fmt.Printf("kubelet %s: kmem-build example binary, not a real kubelet; nothing to do "+
			"(see --help)\n", version.Get())
		return 0
	}
	if err := cgroups.CheckNotRealCgroupfs(*fakeRoot); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: %v\n", err)
		return 1
	}

	// A cgroup v1 kernel fills a new memory cgroup directory with its control files; simulate
	// that (with the kernel's "unlimited" value) for the pod cgroup the manager will create.
	podDir := filepath.Join(*fakeRoot, "memory", "kubepods", "pod-example")
	if err := simulateKernelFiles(podDir); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: %v\n", err)
		return 1
	}

	cg := &configs.Cgroup{
		Parent: "kubepods",
		Name:   "pod-example",
		Resources: &configs.Resources{
			Memory:       *memory,
			KernelMemory: *kmem,
		},
	}
	mgr := &fs.Manager{Cgroups: cg, Root: *fakeRoot}
	if err := mgr.Apply(os.Getpid()); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: apply pod cgroup: %v\n", err)
		return 1
	}
	if err := mgr.Set(cg); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: set pod cgroup resources: %v\n", err)
		return 1
	}
	kmemLimit, err := os.ReadFile(filepath.Join(podDir, kmemLimitFile))
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: %v\n", err)
		return 1
	}
	state := "untouched: kernel memory accounting not enabled"
	if v := strings.TrimSpace(string(kmemLimit)); v != unlimited {
		state = "written: kernel memory accounting enabled"
	}
	fmt.Printf("kubelet: pod cgroup %s set up\n", mgr.Paths["memory"])
	fmt.Printf("kubelet: %s = %s (%s)\n", kmemLimitFile, strings.TrimSpace(string(kmemLimit)), state)
	return 0
}

const (
	kmemLimitFile = "memory.kmem.limit_in_bytes"
	unlimited     = "9223372036854771712"
)

func simulateKernelFiles(dir string) error {
	if err := cgroups.MkdirAll(dir); err != nil {
		return err
	}
	for _, name := range []string{"memory.limit_in_bytes", "memory.soft_limit_in_bytes", kmemLimitFile} {
		p := filepath.Join(dir, name)
		if cgroups.PathExists(p) {
			continue
		}
		if err := os.WriteFile(p, []byte(unlimited+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
