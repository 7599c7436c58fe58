package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	env := LoadEnv(testEnv(map[string]string{
		"REDIS_URL":    "redis://:redispw@localhost:6379/0",
		"DATABASE_URL": "postgres://wacamp:dbpw@db:5432/wacamp?sslmode=disable",
	}))
	require.Equal(t, Env{
		RedisURL:    "redis://:redispw@localhost:6379/0",
		DatabaseURL: "postgres://wacamp:dbpw@db:5432/wacamp?sslmode=disable",
	}, env)
	require.Equal(t, Env{}, LoadEnv(testEnv(nil)))
}

func TestEnvStringHidesPasswords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  Env
		want string
	}{
		{"Unset", Env{}, "REDIS_URL=(unset) DATABASE_URL=(unset)"},
		{"UserInfo", Env{RedisURL: "redis://:pw1@localhost:6379/0", DatabaseURL: "postgres://u:pw2@db/wacamp"},
			"REDIS_URL=redis://:xxxxx@localhost:6379/0 DATABASE_URL=postgres://u:xxxxx@db/wacamp"},
		{"QueryPassword", Env{DatabaseURL: "postgres://db/wacamp?password=pw3&sslmode=disable"},
			"REDIS_URL=(unset) DATABASE_URL=postgres://db/wacamp?password=xxxxx&sslmode=disable"},
		{"DSN", Env{DatabaseURL: "host=db user=u password=pw4"}, "REDIS_URL=(unset) DATABASE_URL=(set, not shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.env.String()
			require.Equal(t, tt.want, got)
			require.NotRegexp(t, `pw\d`, got)
		})
	}
}
