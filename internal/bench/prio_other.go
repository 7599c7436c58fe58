//go:build !unix

package bench

import "errors"

// raisePriority is not supported on this platform.
func raisePriority(int) error { return errors.ErrUnsupported }
