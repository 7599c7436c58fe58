package main

import (
	"os"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/demo"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "scheduler" {
		cli.Run(cli.Scheduler, os.Args[2:])
	}
	cli.Run(demo.Run, os.Args[1:])
}
