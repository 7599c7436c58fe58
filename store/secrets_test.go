package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
)

// TestApplyNeverStoresToken applies an account whose token comes from the
// environment, runs a delivery through every table, and searches every
// column of every row for the token.
func TestApplyNeverStoresToken(t *testing.T) {
	t.Parallel()
	const (
		token  = "sk-live-SECRET-9f8e7d6c5b4a3928"
		marker = "9f8e7d6c5b4a3928" // the distinctive part, in case of any re-encoding
	)
	const yaml = `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${SOME_VAR}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
broadcasts:
  - name: spring
    account: main
    audience:
      recipients:
        - {phone: "4915112345678", name: Ann}
        - {phone: "4915112345679", name: Ben}
    message:
      text: "Hi {{name}}"
`
	getenv := func(k string) string {
		if k == "SOME_VAR" {
			return token
		}
		return ""
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		path := filepath.Join(t.TempDir(), "c.yaml")
		require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
		b, err := spec.Load(path, getenv, drivers.Catalog{})
		require.NoError(t, err)
		ch := f.apply(b, t0)
		for _, c := range ch {
			require.NotContains(t, c.Detail, marker)
		}

		// Fill every table.
		br := f.broadcast("spring")
		f.planAll(br.ID, 10)
		f.setStatus(br.ID, campaign.StatusRunning)
		refs, err := f.db.NextPlanned(f.ctx, br.ID, 10)
		require.NoError(t, err)
		require.Len(t, refs, 2)
		f.claimAndSend(refs[0], "wamid.HBgM1", at(time.Second))
		_, err = f.db.ApplyStatus(f.ctx, refs[0].ID, "", provider.StatusReport{Status: provider.StatusDelivered}, at(2*time.Second), nil)
		require.NoError(t, err)
		_, err = f.db.Finish(f.ctx, refs[1], delivery.Failed, "131026", "not a WhatsApp user", at(time.Second))
		require.NoError(t, err)

		a, err := f.db.Account(f.ctx, br.AccountID)
		require.NoError(t, err)
		require.Equal(t, "env:SOME_VAR", a.TokenRef)
		tok, err := spec.ResolveToken(a.TokenRef, getenv)
		require.NoError(t, err)
		require.Equal(t, token, tok, "the stored reference still finds the token")

		var dumped []string
		if f.db.Dialect() == "postgres" {
			// Every table of the schema, each row as JSON of all its columns.
			var names []string
			require.NoError(t, f.db.Gorm().Raw(`SELECT table_name FROM information_schema.tables
				WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`).Scan(&names).Error)
			require.Subset(t, names, tables)
			for _, tb := range names {
				var rows []string
				require.NoError(t, f.db.Gorm().Raw(`SELECT row_to_json(t)::text FROM "`+tb+`" t`).Scan(&rows).Error)
				dumped = append(dumped, rows...)
			}
		}
		for _, tb := range tables {
			rows := f.dump(tb)
			require.NotEmpty(t, rows, "table %s must have rows for the check to mean anything", tb)
			dumped = append(dumped, rows...)
		}
		all := strings.Join(dumped, "\n")
		require.Contains(t, all, "env:SOME_VAR")
		require.NotContains(t, all, marker, "the API token was stored")
	})
}
