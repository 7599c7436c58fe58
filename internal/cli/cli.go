package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
)

// IO is what a command reads and writes.
type IO struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Now is the clock the commands judge start times and deadlines by
	// (validate, apply, reports); nil is time.Now.
	Now func() time.Time
}

// OS returns the process's IO.
func OS() IO { return IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

// now is io.Now, or the wall clock.
func (io IO) now() time.Time {
	if io.Now != nil {
		return io.Now()
	}
	return time.Now()
}

// exitError carries an exit code; its message has already been printed
// when msg is empty.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// UsageError is a wrong invocation of a command: Exit prints its message
// and returns 2.
func UsageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// FlagError is what a command returns when its flags do not parse: the
// flag package has printed why, and Exit returns 2.
func FlagError() error { return &exitError{code: 2} }

// Exit turns a command's error into an exit code, printing it.
func Exit(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "error:", ee.msg)
		}
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

// Logger is the logger of a command run with io: text on io.Stderr at
// WACAMP_LOG_LEVEL (debug, info, warn, error; default info; see
// config.Config.LogLevel).
func Logger(io IO) *slog.Logger {
	cfg, _ := config.FromEnv(io.Getenv) // the level is read even if another setting is refused
	return slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
}

// ParseFlags parses fs from args, flags before or after positional
// arguments (`status NAME --json` and `status --json NAME` both work), and
// returns the positional ones.
func ParseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// settings reads the process settings of a command run with io; an error
// names each variable refused.
func settings(io IO) (config.Config, error) { return config.FromEnv(io.Getenv) }

// Command is the shape of every wacamp command.
type Command func(ctx context.Context, args []string, io IO) error

// Main runs cmd as the process's main: arguments from os.Args, interrupt and
// SIGTERM cancel its context (graceful shutdown), go-redis's own log lines go
// through the command's slog logger, its error becomes the exit code.
func Main(cmd Command) { Run(cmd, os.Args[1:]) }

// Run is Main with the command's arguments given.
func Run(cmd Command, args []string) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app.LogRedisTo(Logger(OS()))
	code := Exit(cmd(ctx, args, OS()), os.Stderr)
	stop()
	os.Exit(code)
}
