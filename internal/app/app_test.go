package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/app"
)

// Connection and parse errors name the URL with its password masked.
func TestOpenErrorsNeverShowPasswords(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-s3cret"
	for _, env := range []config.Env{
		{RedisURL: "redis://:" + pw + "%zz@127.0.0.1:6379/0", DatabaseURL: "postgres://u@127.0.0.1:1/x"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp:" + pw + "@127.0.0.1:1/wacamp?sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "postgres://wacamp@127.0.0.1:1/wacamp?password=" + pw + "&sslmode=disable"},
		{RedisURL: "redis://127.0.0.1:6379/0", DatabaseURL: "mysql://root:" + pw + "@127.0.0.1/x"},
	} {
		_, err := app.Open(context.Background(), env, false, "", nil)
		require.Error(t, err)
		require.NotContains(t, err.Error(), pw)
	}
}
