//go:build linux && !nokmem
// +build linux,!nokmem

package fs

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/opencontainers/runc/libcontainer/cgroups"
)

const cgroupKernelMemoryLimit = "memory.kmem.limit_in_bytes"

// EnableKernelMemoryAccounting turns cgroup v1 kernel memory accounting on for the memory
// cgroup at path. On 3.x kernels accounting only starts once a kmem limit has been written, so
// a limit is written and then lifted again (1, then -1). Kernels without the kmem files are
// left alone.
func EnableKernelMemoryAccounting(path string) error {
	if !cgroups.PathExists(filepath.Join(path, cgroupKernelMemoryLimit)) {
		return nil
	}
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
		return errors.New("kernel memory accounting not supported by this kernel")
	}
	err := cgroups.WriteFile(path, cgroupKernelMemoryLimit, strconv.FormatInt(kernelMemoryLimit, 10))
	if err == nil {
		return nil
	}
	// The kernel answers EBUSY once the cgroup has tasks or children.
	if errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("failed to set %s, because either tasks have already joined this cgroup or it has children", cgroupKernelMemoryLimit)
	}
	return fmt.Errorf("failed to write %v to %v: %w", kernelMemoryLimit, cgroupKernelMemoryLimit, err)
}
