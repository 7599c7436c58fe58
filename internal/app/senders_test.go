package app_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
)

// accountList is a fixed list of applied accounts.
type accountList []delivery.Account

func (l accountList) Accounts(context.Context) ([]delivery.Account, error) { return l, nil }

// A worker knows at start which accounts it cannot send for: those whose
// token's variable is unset here, or whose secret file cannot be read;
// the reason names the variable or file, never a secret's value.
func TestUnusableAccounts(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SHOP_TOKEN": "s3cret-token-value"}
	s := &app.Senders{Getenv: func(k string) string { return env[k] }}
	acct := func(name, ref string) delivery.Account {
		return delivery.Account{Name: name, Provider: "botsailor", BaseURL: "http://127.0.0.1:1/api/v1", TokenRef: ref,
			PhoneNumberID: "119060000040020", WhatsAppBotID: 1}
	}
	bad, err := s.Unusable(context.Background(), accountList{
		acct("shop", "env:SHOP_TOKEN"), acct("other", "env:OTHER_TOKEN"), acct("filed", "file:"+t.TempDir()+"/missing"),
	})
	require.NoError(t, err)
	require.Len(t, bad, 2)
	require.ErrorContains(t, bad["other"], "OTHER_TOKEN is not set")
	require.ErrorContains(t, bad["filed"], "missing")
	require.NotContains(t, bad["other"].Error()+bad["filed"].Error(), "s3cret")
}
