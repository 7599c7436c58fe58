package spec

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/templates"
)

func TestBroadcastSpecHash(t *testing.T) {
	t.Parallel()
	base := func() Broadcast {
		return Broadcast{
			Name:    "bf",
			Account: "main",
			Message: templates.Message{Kind: templates.KindText, Text: "Hi {{name}}"},
			Recipients: []Recipient{
				{Phone: "4915112345678", Name: "Ann", Vars: map[string]string{"a": "1", "b": "2", "c": "3"}},
				{Phone: "4915112345679"},
			},
			Pos: Pos{File: "a.yaml", Line: 3},
		}
	}
	msg, aud := base().SpecHash()
	require.Len(t, msg, 64)
	require.Len(t, aud, 64)
	require.NotEqual(t, msg, aud)

	// Stable: same content, other map insertion order, other position.
	for range 20 {
		b := base()
		b.Recipients[0].Vars = map[string]string{"c": "3", "b": "2", "a": "1"}
		b.Pos = Pos{File: "b.yaml", Line: 99}
		b.Deadline = 1
		m2, a2 := b.SpecHash()
		require.Equal(t, msg, m2)
		require.Equal(t, aud, a2)
	}

	tests := []struct {
		name             string
		edit             func(*Broadcast)
		wantMsg, wantAud bool // whether each hash changes
	}{
		{"Text", func(b *Broadcast) { b.Message.Text = "Hello {{name}}" }, true, false},
		{"Kind", func(b *Broadcast) { b.Message = templates.Message{Kind: templates.KindBotFlow, BotFlow: "Hi {{name}}"} }, true, false},
		{"Phone", func(b *Broadcast) { b.Recipients[1].Phone = "4915112345670" }, false, true},
		{"Var", func(b *Broadcast) { b.Recipients[0].Vars["a"] = "x" }, false, true},
		{"Order", func(b *Broadcast) { b.Recipients[0], b.Recipients[1] = b.Recipients[1], b.Recipients[0] }, false, true},
		{"Removed", func(b *Broadcast) { b.Recipients = b.Recipients[:1] }, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := base()
			tt.edit(&b)
			m2, a2 := b.SpecHash()
			require.Equal(t, tt.wantMsg, m2 != msg)
			require.Equal(t, tt.wantAud, a2 != aud)
		})
	}
}

func TestAccountSpecHash(t *testing.T) {
	t.Parallel()
	a := Account{Name: "main", Provider: "botsailor", BaseURL: "https://botsailor.com/api/v1", TokenRef: "env:X",
		PhoneNumberID: "1", WhatsAppBotID: 2, RatePerSecond: 80, Pos: Pos{File: "a.yaml", Line: 1}}
	h := a.SpecHash()
	require.Len(t, h, 64)

	moved := a
	moved.Pos = Pos{File: "b.yaml", Line: 7}
	require.Equal(t, h, moved.SpecHash())

	edited := a
	edited.RatePerSecond = 40
	require.NotEqual(t, h, edited.SpecHash())
	for _, edit := range []func(*Account){
		func(a *Account) { a.TokenRef = "env:Y" },
		func(a *Account) { a.PairInterval = 10 * time.Second },
		func(a *Account) { a.DailyUniqueLimit = 250 },
		func(a *Account) { a.Portfolio = "acme" },
	} {
		edited = a
		edit(&edited)
		require.NotEqual(t, h, edited.SpecHash())
	}
}
