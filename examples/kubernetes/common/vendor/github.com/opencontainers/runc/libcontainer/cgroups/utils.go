// Package cgroups holds helpers shared by the cgroup managers.
//
// kmem-build example: everything that creates a directory or writes a file goes through
// MkdirAll and WriteFile below, which refuse to touch cgroupfs, sysfs or procfs, so running the
// example kubelet can never change a real cgroup.
package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Filesystem magic numbers (statfs f_type) the example refuses to write to.
const (
	cgroupSuperMagic  = 0x27e0eb
	cgroup2SuperMagic = 0x63677270
	sysfsMagic        = 0x62656572
	procSuperMagic    = 0x9fa0
)

// ErrRealCgroupfs is returned for any attempt to write below cgroupfs, sysfs or procfs.
var ErrRealCgroupfs = errors.New("refusing to touch a real cgroup/sys/proc filesystem (kmem-build example)")

// PathExists reports whether path exists.
func PathExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// CheckNotRealCgroupfs returns ErrRealCgroupfs when path, or its nearest existing ancestor,
// lies on cgroupfs, cgroup2, sysfs or procfs.
func CheckNotRealCgroupfs(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err == nil {
			switch int64(st.Type) {
			case cgroupSuperMagic, cgroup2SuperMagic, sysfsMagic, procSuperMagic:
				return fmt.Errorf("%s: %w", path, ErrRealCgroupfs)
			}
			return nil
		} else if !os.IsNotExist(err) {
			return err
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// MkdirAll creates dir and its parents after checking it is not a real cgroup.
func MkdirAll(dir string) error {
	if err := CheckNotRealCgroupfs(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// WriteFile writes data to dir/file after checking it is not a real cgroup. It neither creates
// nor truncates differently from a cgroup file write: the file must already exist.
func WriteFile(dir, file, data string) error {
	path := filepath.Join(dir, file)
	if err := CheckNotRealCgroupfs(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
