// +build linux

package fs

import (
	"strconv"

	"github.com/opencontainers/runc/libcontainer/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// MemoryGroup is the memory subsystem. kmem-build example of the runc v1.0.0-rc8..rc93 layout:
// the kernel memory functions live in kmem.go (built unless -tags=nokmem) and kmem_disabled.go
// (built with -tags=nokmem).
type MemoryGroup struct{}

// Name returns "memory".
func (s *MemoryGroup) Name() string {
	return "memory"
}

// Apply creates the memory cgroup and, as these runc releases did for every memory cgroup
// they created, switches kernel memory accounting on for it.
func (s *MemoryGroup) Apply(d *cgroupData) error {
	path, err := d.path("memory")
	if err != nil {
		return err
	}
	if !memoryAssigned(d.config) {
		return nil
	}
	if err := cgroups.MkdirAll(path); err != nil {
		return err
	}
	return EnableKernelMemoryAccounting(path)
}

// Set writes the memory limits of cgroup into path.
func (s *MemoryGroup) Set(path string, cgroup *configs.Cgroup) error {
	if cgroup.Resources.Memory != 0 {
		if err := writeFile(path, "memory.limit_in_bytes", strconv.FormatInt(cgroup.Resources.Memory, 10)); err != nil {
			return err
		}
	}
	if cgroup.Resources.MemoryReservation != 0 {
		if err := writeFile(path, "memory.soft_limit_in_bytes", strconv.FormatInt(cgroup.Resources.MemoryReservation, 10)); err != nil {
			return err
		}
	}
	if cgroup.Resources.KernelMemory != 0 {
		if err := setKernelMemory(path, cgroup.Resources.KernelMemory); err != nil {
			return err
		}
	}
	if cgroup.Resources.KernelMemoryTCP != 0 {
		if err := writeFile(path, "memory.kmem.tcp.limit_in_bytes", strconv.FormatInt(cgroup.Resources.KernelMemoryTCP, 10)); err != nil {
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
