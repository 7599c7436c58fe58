// Command demo runs the whole of wacamp in one process with no set-up: see
// README.md.
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
	os.Exit(cli.Exit(cli.Demo(ctx, os.Args[1:], cli.OS()), os.Stderr))
}
