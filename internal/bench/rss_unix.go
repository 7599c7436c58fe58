//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
	"time"
)

// peakRSSMiB is the peak resident memory of an ended child process, from
// getrusage's ru_maxrss (KiB on Linux, bytes on macOS); 0 if unknown.
func peakRSSMiB(ps *os.ProcessState) float64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / (1 << 10)
}

// processCPU is this process's user plus system CPU so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
