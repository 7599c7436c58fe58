package config

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every environment variable the processes read is in Settings, and the
// README names each: settings are not scattered where nobody finds them.
func TestSettingsAreListedAndDocumented(t *testing.T) {
	t.Parallel()
	var names []string
	for _, s := range Settings {
		names = append(names, s.Name)
		if !Reserved(s.Name) {
			t.Errorf("%s is a process setting that a campaign file may read", s.Name)
		}
	}
	out, err := exec.Command("git", "-C", "..", "grep", "-h", "-o", "-E", `"(WACAMP|ASYNQMON)_[A-Z_]+"`, "--", "*.go", ":!*_test.go", ":!internal/bench", ":!internal/testenv").Output()
	if err != nil {
		t.Fatalf("git grep: %v", err)
	}
	for _, q := range strings.Fields(string(out)) {
		if name := strings.Trim(q, `"`); !slices.Contains(names, name) {
			t.Errorf("the code reads %s, which Settings does not list", name)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !regexp.MustCompile("`" + n + "`").Match(readme) {
			t.Errorf("README does not name %s", n)
		}
	}
}
