package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Where a campaign file may read files from. A campaign file is untrusted
// input: it is reviewed in pull requests and validated in CI by people who
// must not be able to read the secrets of the machines that apply it. So a
// secret file (api_token_file, api_secret_file, webhook_secret_file) must
// lie in a secret directory, and an audience CSV in the campaign directory
// or an audience directory; special files (/proc, /sys, /dev, devices,
// pipes) are never read.
const (
	// MaxSecretFileBytes is the size above which a secret file is refused:
	// no token is that long, and a bigger file is not a token file.
	MaxSecretFileBytes = 64 << 10
)

// specialRoots hold files that are not files: the kernel's views of
// processes and devices. Their "contents" (a process's environment, say)
// are exactly what a campaign file must not read.
var specialRoots = []string{"/proc", "/sys", "/dev"}

// secretDirs returns where secret files may be (WACAMP_SECRET_DIRS, else
// config.DefaultSecretDirs).
func (l *loader) secretDirs() []string {
	return l.secretDirList
}

// audienceDirs returns where audience files may be: the campaign
// directory (the directory loaded, or the loaded file's directory) and
// WACAMP_AUDIENCE_DIRS.
func (l *loader) audienceDirs() []string {
	return append([]string{l.root}, l.audienceDirList...)
}

// inside reports whether path lies in (or is) one of dirs. With resolve,
// symbolic links in path and dirs are followed first, so a link inside a
// directory cannot point out of it; a path that does not exist is then an
// error.
func inside(path string, dirs []string, resolve bool) (bool, error) {
	if resolve {
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return false, err
		}
		path = real
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	for _, d := range dirs {
		if resolve {
			if real, err := filepath.EvalSymlinks(d); err == nil {
				d = real
			}
		}
		if d, err = filepath.Abs(d); err != nil {
			continue
		}
		if rel, err := filepath.Rel(d, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true, nil
		}
	}
	return false, nil
}

// special reports whether an absolute path lies in one of specialRoots.
func special(path string) bool {
	for _, root := range specialRoots {
		if path == root || strings.HasPrefix(path, root+"/") {
			return true
		}
	}
	return false
}

// errSpecialFile is returned for a path that is not a regular file or
// lies under /proc, /sys or /dev.
var errSpecialFile = errors.New("is not a regular file (devices, pipes and the files of /proc, /sys and /dev are never read)")

// regularFile checks that path (symbolic links followed) is a regular
// file outside the kernel's special trees, and returns its size.
func regularFile(path string) (int64, error) {
	// A path named under a special tree is refused as such before its
	// links are followed: /dev/fd/63 (a shell's <(…)) leads to a pipe that
	// has no path, which would read as "no such file".
	if abs, err := filepath.Abs(path); err == nil && special(abs) {
		return 0, errSpecialFile
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, unwrapPath(err)
	}
	if special(real) {
		return 0, errSpecialFile
	}
	info, err := os.Stat(real)
	if err != nil {
		return 0, unwrapPath(err)
	}
	if !info.Mode().IsRegular() {
		return 0, errSpecialFile
	}
	return info.Size(), nil
}

// checkSecretPath reports why the secret file path may not be read by a
// campaign file, or "" if it may. Offline, the file need not exist.
func (l *loader) checkSecretPath(path string) string {
	dirs := l.secretDirs()
	// A path outside the directories by its name is refused before it is
	// looked at: whether it exists is nobody's business.
	ok, err := inside(path, dirs, false)
	if err == nil && ok && !l.opts.Offline {
		ok, err = inside(path, dirs, true)
	}
	switch {
	case err != nil:
		return fmt.Sprintf("cannot read %q: %v", path, unwrapPath(err))
	case !ok:
		return fmt.Sprintf("%q is outside the directories secret files are read from (%s); put the file there, or add its directory to WACAMP_SECRET_DIRS",
			path, strings.Join(dirs, ":"))
	}
	return ""
}

// openAudience opens the audience CSV file rel (relative to the YAML
// file), which must be a regular file in the campaign directory or an
// audience directory. It returns the path as shown in problems, and a nil
// file after reporting a problem on the YAML's csv line.
func (f *fileCtx) openAudience(rel string, yamlLine int, yamlField string) (string, *os.File) {
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(f.path), rel)
	}
	dirs := f.l.audienceDirs()
	// Outside the directories by its name: refused before the file is
	// looked at, so a campaign (one sent to the HTTP API) cannot learn
	// whether a path exists.
	outside := func() (string, *os.File) {
		f.problem(yamlLine, yamlField, "%s is outside the campaign directory (%s); audience files are read only from there, or from a directory in WACAMP_AUDIENCE_DIRS",
			path, strings.Join(dirs, ":"))
		return path, nil
	}
	if ok, err := inside(path, dirs, false); err != nil || !ok {
		return outside()
	}
	if _, err := regularFile(path); err != nil {
		f.problem(yamlLine, yamlField, "cannot read %s: %v", path, err)
		return path, nil
	}
	if ok, err := inside(path, dirs, true); err != nil || !ok {
		return outside() // a link inside that leads out
	}
	file, err := openRegular(path)
	if err != nil {
		f.problem(yamlLine, yamlField, "cannot read %s: %v", path, err)
		return path, nil
	}
	return path, file
}
