// Command kubelet creates the pod-level memory cgroups of a Kubernetes node the way the kubelet 1.20's
// cgroup manager does (pkg/kubelet/cm/cgroup_manager_linux.go, cgroupfs driver): for each cgroup, a
// libcontainer fs manager over a configs.Cgroup with the kubelet's Resources (all devices allowed,
// SkipDevices, the memory limit when there is one), Apply(-1) to create the directories, then Set of
// the memory controller (the kubelet's Update). It then stays running, as the kubelet does, so that
// verify-kmem.sh finds it as the running kubelet.
//
// It is compiled inside the genuine Kubernetes 1.20.2 tree (its vendored runc v1.0.0-rc92
// libcontainer; test/el7/real-tree.test.ts), once as upstream builds it and once with -tags nokmem.
// The file is named kubelet in the VM so that its comm is "kubelet".
//
// usage: kubelet POD-UID [CGROUP-NAME=MEMORY-LIMIT-BYTES|CGROUP-NAME]...
// Without cgroup arguments it creates kubepods (512 MiB, node allocatable), kubepods/burstable,
// kubepods/besteffort and kubepods/burstable/pod<POD-UID> (64 MiB).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer/cgroups/fs"
	"github.com/opencontainers/runc/libcontainer/configs"
)

const memoryMount = "/sys/fs/cgroup/memory"

// create is cgroupManagerImpl.Create for the cgroupfs driver on cgroup v1, memory controller.
func create(name string, memory int64) error {
	resources := &configs.Resources{
		Devices: []*configs.DeviceRule{{
			Type: 'a', Permissions: "rwm", Allow: true,
			Minor: configs.Wildcard, Major: configs.Wildcard,
		}},
		SkipDevices: true,
		Memory:      memory,
	}
	manager := fs.NewManager(&configs.Cgroup{Path: name, Resources: resources}, nil, false)
	if err := manager.Apply(-1); err != nil {
		return fmt.Errorf("apply %s: %v", name, err)
	}
	// Update: the same Resources, the controllers' paths named, Set of each controller.
	update := &configs.Cgroup{Resources: resources, Paths: map[string]string{"memory": filepath.Join(memoryMount, name)}}
	if err := (&fs.MemoryGroup{}).Set(update.Paths["memory"], update); err != nil {
		return fmt.Errorf("set %s: %v", name, err)
	}
	return nil
}

func main() {
	// verify-kmem.sh asks a kubelet that links runc's kmem code for its version, as of a real kubelet
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		fmt.Println("Kubernetes v1.20.2")
		return
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kubelet POD-UID [CGROUP-NAME[=MEMORY-LIMIT-BYTES]]...")
		os.Exit(2)
	}
	specs := os.Args[2:]
	if len(specs) == 0 {
		specs = []string{
			"/kubepods=536870912", "/kubepods/burstable", "/kubepods/besteffort",
			"/kubepods/burstable/pod" + os.Args[1] + "=67108864",
		}
	}
	for _, s := range specs {
		name, limit := s, int64(0)
		if i := strings.IndexByte(s, '='); i >= 0 {
			n, err := strconv.ParseInt(s[i+1:], 10, 64)
			if err != nil {
				fmt.Fprintf(os.Stderr, "kubelet: bad limit in %q\n", s)
				os.Exit(2)
			}
			name, limit = s[:i], n
		}
		if err := create(name, limit); err != nil {
			fmt.Printf("cgroup-manager: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("cgroup-manager: created %s (memory limit %d)\n", name, limit)
	}
	fmt.Println("cgroup-manager: ready")
	for {
		time.Sleep(time.Hour)
	}
}
