// Package sqlite links the embedded SQLite database into a program: import
// it for its side effect and store.Open accepts "sqlite:PATH". The demo and
// the tests do; the worker and scheduler binaries talk to Postgres only and
// carry no SQLite.
package sqlite

import (
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"

	"github.com/wacamp/wacamp/store"
)

func init() {
	store.RegisterSQLite(func(dsn string) gorm.Dialector { return sqlite.Open(dsn) })
}
