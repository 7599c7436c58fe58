// Package sqlite links the embedded SQLite database into a program: import
// it for its side effect and store.Open accepts "sqlite:PATH". The demo and
// the tests do; the worker and scheduler binaries talk to Postgres only and
// carry no SQLite.
package sqlite
