package consent_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/templates"
)

// A message is a keyword only when its whole text is one: trimmed of
// spaces and surrounding punctuation, without case and accents; a sentence
// with "stop" in it is none.
func TestClassify(t *testing.T) {
	t.Parallel()
	k := consent.Keywords{OptOut: []string{"PARAR", "Désabonner", "opt out"}, OptIn: []string{"Volver"}}
	for text, want := range map[string]consent.Action{
		"STOP": consent.OptOut, "stop": consent.OptOut, "  Stop!\n": consent.OptOut, "«stop»": consent.OptOut,
		"StopAll": consent.OptOut, "UNSUBSCRIBE.": consent.OptOut, "cancel": consent.OptOut, "End": consent.OptOut,
		"quit": consent.OptOut, "revoke": consent.OptOut, "OPTOUT": consent.OptOut,
		"parar": consent.OptOut, "desabonner": consent.OptOut, "DÉSABONNER": consent.OptOut, "Opt   Out": consent.OptOut,
		"start": consent.OptIn, "UNSTOP": consent.OptIn, "vólver": consent.OptIn,
		"please stop sending": consent.None, "stop it": consent.None, "stopp": consent.None, "": consent.None,
		"don't stop": consent.None, "STOP STOP": consent.None, "🛑": consent.None, "thanks": consent.None,
	} {
		require.Equal(t, want, k.Classify(text), "%q", text)
	}
	require.Equal(t, consent.None, consent.Keywords{}.Classify("parar"), "an account's own words are its own")
	require.Equal(t, consent.OptOut, consent.Keywords{}.Classify("Stop 🛑"), "a symbol around it")
}

func TestFold(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"  Désinscrire ": "desinscrire", "STRAẞE": "strasse", "a\t b": "a b", "¡Basta!": "basta", "...": "", "Ｓｔｏｐ": "stop", "ﬁn": "fin",
	} {
		require.Equal(t, want, consent.Fold(in), "%q", in)
	}
}

// Scope marketing blocks marketing templates (those whose category is
// marketing or not stated); scope all blocks everything.
func TestChecks(t *testing.T) {
	t.Parallel()
	tpl := func(cat string) templates.Message {
		return templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "1", Category: cat}}
	}
	require.True(t, consent.Marketing(tpl("")))
	require.True(t, consent.Marketing(tpl(templates.CategoryMarketing)))
	require.False(t, consent.Marketing(tpl(templates.CategoryUtility)))
	require.False(t, consent.Marketing(tpl(templates.CategoryAuthentication)))
	require.False(t, consent.Marketing(templates.Message{Kind: templates.KindText, Text: "hi"}))
	require.False(t, consent.Marketing(templates.Message{Kind: templates.KindBotFlow, BotFlow: "f"}))

	c := consent.CheckOf("main", "shop", tpl(""))
	require.Equal(t, consent.Check{Lists: []string{"account:main", "portfolio:shop"}, Marketing: true}, c)
	require.True(t, c.Blocks(consent.ScopeMarketing))
	require.True(t, c.Blocks(consent.ScopeAll))
	c = consent.CheckOf("main", "", tpl(templates.CategoryUtility))
	require.False(t, c.Blocks(consent.ScopeMarketing))
	require.True(t, c.Blocks(consent.ScopeAll))
	a, b := c.ListPair()
	require.Equal(t, []string{"account:main", "account:main"}, []string{a, b})
	require.Equal(t, "portfolio:shop", consent.List("main", "shop"))
	require.Equal(t, "account:main", consent.List("main", ""))
}

// 131050 refuses marketing, 130403 everything; other failures say nothing
// lasting about the person.
func TestFromCode(t *testing.T) {
	t.Parallel()
	r, ok := consent.FromCode("131050")
	require.True(t, ok)
	require.Equal(t, consent.ScopeMarketing, r.Scope)
	require.Contains(t, r.Reason, "stopped marketing")
	r, ok = consent.FromCode("130403")
	require.True(t, ok)
	require.Equal(t, consent.ScopeAll, r.Scope)
	for _, code := range []string{"", "131026", "131049", "131047", "130429"} {
		_, ok := consent.FromCode(code)
		require.False(t, ok, code)
	}
}
