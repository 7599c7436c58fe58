package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigStringHidesPasswords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"Unset", Config{}, "REDIS_URL=(unset) DATABASE_URL=(unset)"},
		{"UserInfo", Config{RedisURL: "redis://:pw1@localhost:6379/0", DatabaseURL: "postgres://u:pw2@db/wacamp"},
			"REDIS_URL=redis://:xxxxx@localhost:6379/0 DATABASE_URL=postgres://u:xxxxx@db/wacamp"},
		{"QueryPassword", Config{DatabaseURL: "postgres://db/wacamp?password=pw3&sslmode=disable"},
			"REDIS_URL=(unset) DATABASE_URL=postgres://db/wacamp?password=xxxxx&sslmode=disable"},
		{"DSN", Config{DatabaseURL: "host=db user=u password=pw4"}, "REDIS_URL=(unset) DATABASE_URL=(set, not shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.cfg.String()
			require.Equal(t, tt.want, got)
			require.NotRegexp(t, `pw\d`, got)
		})
	}
}
