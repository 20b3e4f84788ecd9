// Package configs holds the cgroup configuration handed to the cgroup managers.
package configs

// Cgroup names a cgroup and the resources to set on it.
type Cgroup struct {
	// Name of the cgroup, relative to Parent.
	Name string
	// Parent path of the cgroup.
	Parent string
	// Path overrides Parent/Name when set.
	Path string

	*Resources
}

// Resources are the limits applied to a cgroup (only the memory ones exist here).
type Resources struct {
	// Memory limit in bytes.
	Memory int64
	// MemoryReservation is the soft limit in bytes.
	MemoryReservation int64
	// MemorySwap is the total memory+swap limit in bytes, -1 for unlimited.
	MemorySwap int64
	// KernelMemory is the cgroup v1 kernel memory limit in bytes.
	KernelMemory int64
	// KernelMemoryTCP is the cgroup v1 kernel TCP buffer limit in bytes.
	KernelMemoryTCP int64
}
