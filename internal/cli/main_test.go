package cli_test

import (
	"os"
	"testing"

	"github.com/wacamp/wacamp/internal/cli"
)

// workerChildEnv tells this test binary, started again by a test, to be the
// worker command (its arguments after "--") instead of running the tests:
// the crash test kills a real worker process without building one.
const workerChildEnv = "WACAMP_TEST_WORKER_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(workerChildEnv) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		cli.Run(cli.Worker, args) // exits
	}
	os.Exit(m.Run())
}
