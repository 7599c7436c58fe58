package spec

import (
	"fmt"

	"github.com/wacamp/wacamp/templates"
)

// windowOverrideHint tells how an account whose window comes from its
// provider can say otherwise.
func windowOverrideHint(a Account) string {
	if a.ServiceWindow != "" {
		return ""
	}
	return "; or set the account's customer_service_window: not_enforced if its channel has no such window"
}

// notEnforcedBy says why an account does not enforce the window: its
// setting, or its provider's rule.
func notEnforcedBy(a Account) string {
	if a.ServiceWindow != "" {
		return " (customer_service_window: " + a.ServiceWindow + ")"
	}
	return " (its provider's channel has none)"
}

// checkCapabilities refuses a broadcast or sequence step whose message the
// provider of its account cannot send, naming the step and the reason, so
// that nothing of a campaign that cannot run is ever sent; and a free-form
// message on an account that enforces the 24-hour window (see
// [Account.EnforcesWindow]) that does not say what happens outside it. A
// message that says so on an account that does not enforce the window is
// warned about: its outside_window never applies.
func (l *loader) checkCapabilities() {
	provider := make(map[string]string, len(l.bundle.Accounts))
	accounts := make(map[string]Account, len(l.bundle.Accounts))
	for _, a := range l.bundle.Accounts {
		provider[a.Name], accounts[a.Name] = a.Provider, a
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
		if a := accounts[account]; m.Restricted() && m.OutsideWindow == nil && a.EnforcesWindow(caps) {
			l.probs.add(pos.File, pos.Line, field+".outside_window", "is required: account %s (%s) enforces the 24-hour customer-service window, "+
				"so a %s message reaches only people who wrote in the last 24 h; add outside_window: skip (skip the others) "+
				"or outside_window: {template: {...}} (send them an approved template)%s",
				account, a.Provider, m.Kind, windowOverrideHint(a))
		}
		if a := accounts[account]; m.Restricted() && m.OutsideWindow != nil && !a.EnforcesWindow(caps) {
			l.bundle.Warnings = append(l.bundle.Warnings, fmt.Sprintf(
				"%s:%d: %s.outside_window: is ignored: account %s (%s) does not enforce the 24-hour customer-service window%s, so the message is sent as written to everyone",
				pos.File, pos.Line, field, account, a.Provider, notEnforcedBy(a)))
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
