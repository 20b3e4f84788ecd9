//go:build linux
// +build linux

package fs

import (
	"strconv"

	"github.com/opencontainers/runc/libcontainer/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
)

// MemoryGroup is the memory subsystem. kmem-build example of the runc v1.0.0-rc95+ layout:
// there is no kernel memory code at all; kernel memory settings are ignored.
type MemoryGroup struct{}

// Name returns "memory".
func (s *MemoryGroup) Name() string {
	return "memory"
}

// Apply creates the memory cgroup.
func (s *MemoryGroup) Apply(d *cgroupData) error {
	path, err := d.path("memory")
	if err != nil {
		return err
	}
	if !memoryAssigned(d.config) {
		return nil
	}
	return cgroups.MkdirAll(path)
}

// Set writes the memory limits of cgroup into path. KernelMemory and KernelMemoryTCP are
// ignored.
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
	return nil
}

func memoryAssigned(cgroup *configs.Cgroup) bool {
	r := cgroup.Resources
	return r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap > 0
}
