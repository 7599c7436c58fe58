// Package config reads the settings of wacamp's own processes from the
// environment: the Postgres and Redis URLs, the pool size, the log level,
// the engine's lease, settle window and sweep age, the webhook receiver's
// address, where campaign files may read secret and audience files from,
// and the web UI's credentials. [Settings] lists every variable, what
// reads it, its default and meaning; a test keeps it equal to the code
// and the README.
//
// [FromEnv] reads in three steps: the defaults first, then each variable
// that is set, then one [Config.Validate], whose errors name the variable
// and quote its value as written:
//
//	cfg, err := config.FromEnv(os.Getenv)
//	if err != nil {
//		return err // WACAMP_LEASE="soon": want a duration of at least 1s, such as 2m
//	}
//	conns, err := app.Open(ctx, cfg, log)
//
// A setting's zero value is documented on its field; the engine's
// durations stay 0 when unset, meaning the engine's own defaults.
//
// Campaign files (package spec) are another matter: they may never read
// these variables ([Reserved]). config imports only the standard library,
// so any package may read settings.
package config
