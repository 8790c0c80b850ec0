package main

import "golang.org/x/sys/unix"

// fsType names the file system dir is on, so that a table measured on
// tmpfs (where fdatasync costs nothing) says so.
func fsType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "an unnamed file system"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs (durability costs nothing here)"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return "an unnamed file system"
}
