// Command scheduler: see `scheduler -h` and README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wacamp/wacamp/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.Exit(cli.Scheduler(ctx, os.Args[1:], cli.OS()), os.Stderr))
}
