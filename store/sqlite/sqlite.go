package sqlite

import (
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"

	"github.com/wacamp/wacamp/store"
)

func init() {
	store.RegisterSQLite(func(dsn string) gorm.Dialector { return sqlite.Open(dsn) })
}
