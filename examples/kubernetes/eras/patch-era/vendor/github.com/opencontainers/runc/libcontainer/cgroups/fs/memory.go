// +build linux

package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/opencontainers/runc/libcontainer/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// kmem-build example of the layout of runc before v1.0.0-rc6 (vendored by Kubernetes <= 1.13):
// the kernel memory functions live in this file, built for every linux build. There is no
// nokmem variant, so -tags=nokmem changes nothing; patches/runc-pre-rc6-nokmem.patch adds one.

const (
	cgroupKernelMemoryLimit = "memory.kmem.limit_in_bytes"
)

// MemoryGroup is the memory subsystem.
type MemoryGroup struct {
}

// Name returns "memory".
func (s *MemoryGroup) Name() string {
	return "memory"
}

// Apply creates the memory cgroup and switches kernel memory accounting on for it.
func (s *MemoryGroup) Apply(d *cgroupData) (err error) {
	path, err := d.path("memory")
	if err != nil {
		return err
	}
	if memoryAssigned(d.config) {
		if err := cgroups.MkdirAll(path); err != nil {
			return err
		}
		if err := EnableKernelMemoryAccounting(path); err != nil {
			return err
		}
	}
	return nil
}

func EnableKernelMemoryAccounting(path string) error {
	// Check if kernel memory is enabled
	// (writing a kernel memory limit and lifting it again, 1 then -1, is what starts kernel
	// memory accounting for the cgroup on 3.x kernels)
	for _, limit := range []int64{1, -1} {
		if err := setKernelMemory(path, limit); err != nil {
			return err
		}
	}
	return nil
}

func setKernelMemory(path string, kernelMemoryLimit int64) error {
	if path == "" {
		return fmt.Errorf("no such directory for %s", cgroupKernelMemoryLimit)
	}
	if !cgroups.PathExists(filepath.Join(path, cgroupKernelMemoryLimit)) {
		// no kmem files: this kernel has no kernel memory accounting, nothing to do
		return nil
	}
	err := cgroups.WriteFile(path, cgroupKernelMemoryLimit, strconv.FormatInt(kernelMemoryLimit, 10))
	if err == nil {
		return nil
	}
	// The kernel answers EBUSY once the cgroup has tasks or children.
	if pathErr, ok := err.(*os.PathError); ok && pathErr.Err == syscall.EBUSY {
		return fmt.Errorf("failed to set %s, because either tasks have already joined this cgroup or it has children", cgroupKernelMemoryLimit)
	}
	return fmt.Errorf("failed to write %v to %v: %v", kernelMemoryLimit, cgroupKernelMemoryLimit, err)
}

// Set writes the memory limits of cgroup into path.
func (s *MemoryGroup) Set(path string, cgroup *configs.Cgroup) error {
	if cgroup.Resources.Memory != 0 {
		if err := writeFile(path, "memory.limit_in_bytes", strconv.FormatInt(cgroup.Resources.Memory, 10)); err != nil {
			return err
		}
	}
	if cgroup.Resources.KernelMemory != 0 {
		if err := setKernelMemory(path, cgroup.Resources.KernelMemory); err != nil {
			return err
		}
	}
	if cgroup.Resources.MemoryReservation != 0 {
		if err := writeFile(path, "memory.soft_limit_in_bytes", strconv.FormatInt(cgroup.Resources.MemoryReservation, 10)); err != nil {
			return err
		}
	}
	return nil
}

func memoryAssigned(cgroup *configs.Cgroup) bool {
	r := cgroup.Resources
	return r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap > 0 ||
		r.KernelMemory > 0 || r.KernelMemoryTCP > 0
}
