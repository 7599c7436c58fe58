package spec

import (
	"os"
	"syscall"
)

// openFlags opens without blocking: opening a named pipe for reading
// otherwise waits for a writer, before its type could be checked.
// Reading a regular file ignores the flag.
const openFlags = syscall.O_NONBLOCK

// Magic numbers of the pseudo file systems whose files claim to be
// regular but whose content the kernel makes up as it is read
// (linux/magic.h).
const (
	procSuperMagic  = 0x9fa0
	sysfsMagic      = 0x62656572
	debugfsMagic    = 0x64626720
	tracefsMagic    = 0x74726163
	securityfsMagic = 0x73636673
	cgroupMagic     = 0x27e0eb
	cgroup2Magic    = 0x63677270
)

// checkPseudoFile refuses a file of /proc, /sys and the like.
func checkPseudoFile(file *os.File) error {
	raw, err := file.SyscallConn()
	if err != nil {
		return nil
	}
	var st syscall.Statfs_t
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = syscall.Fstatfs(int(fd), &st) }); err != nil || serr != nil {
		return nil // not knowing is no reason to refuse
	}
	switch st.Type {
	case procSuperMagic, sysfsMagic, debugfsMagic, tracefsMagic, securityfsMagic, cgroupMagic, cgroup2Magic:
		return errSpecialFile
	}
	return nil
}
