package spec

import (
	"fmt"

	"github.com/wacamp/wacamp/templates"
)

// checkCapabilities refuses a broadcast or sequence step whose message the
// provider of its account cannot send, naming the step and the reason, so
// that nothing of a campaign that cannot run is ever sent.
func (l *loader) checkCapabilities() {
	provider := make(map[string]string, len(l.bundle.Accounts))
	for _, a := range l.bundle.Accounts {
		provider[a.Name] = a.Provider
	}
	check := func(pos Pos, field, account string, m templates.Message) {
		p, ok := provider[account]
		if !ok || m.Validate() != nil {
			return // an unknown account or a broken message is reported already
		}
		caps, ok := l.providers.Capabilities(p)
		if !ok {
			return
		}
		if err := caps.Check(m); err != nil {
			l.probs.add(pos.File, pos.Line, field, "account %s: %v", account, err)
		}
	}
	for _, b := range l.bundle.Broadcasts {
		check(b.Pos, fmt.Sprintf("broadcast %s: message", b.Name), b.Account, b.Message)
	}
	for _, s := range l.bundle.Sequences {
		for i, st := range s.Steps {
			check(st.Pos, fmt.Sprintf("sequence %s: step %d: message", s.Name, i+1), s.Account, st.Message)
		}
	}
}
