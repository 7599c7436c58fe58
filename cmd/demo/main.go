// Command demo runs the whole of wacamp in one process with no set-up: see
// README.md.
package main

import "github.com/wacamp/wacamp/internal/cli"

func main() { cli.Main(cli.Demo) }
