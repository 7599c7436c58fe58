package main

import "github.com/wacamp/wacamp/internal/cli"

func main() { cli.Main(cli.Asynqmon) }
