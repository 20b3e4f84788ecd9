//go:build linux && nokmem
// +build linux,nokmem

package fs

import "errors"

// EnableKernelMemoryAccounting does nothing in a nokmem build: memory cgroups are created
// without kernel memory accounting.
func EnableKernelMemoryAccounting(path string) error {
	return nil
}

// setKernelMemory refuses explicit kernel memory limits in a nokmem build.
func setKernelMemory(path string, kernelMemoryLimit int64) error {
	return errors.New("kernel memory accounting disabled in this runc build")
}
