package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
)

// mainList is account "main"'s suppression list (it has no portfolio).
const mainList = "account:main"

// suppress puts phones on list with scope and source, failing the test on
// error, and returns the result.
func (f *fixture) suppress(list, scope, source string, phones ...string) consent.SuppressResult {
	f.t.Helper()
	es := make([]consent.Entry, len(phones))
	for i, p := range phones {
		es[i] = consent.Entry{List: list, Phone: p, Scope: scope, Source: source, Reason: "test"}
	}
	res, err := f.db.Suppress(f.ctx, es, t0)
	require.NoError(f.t, err)
	return res
}

// entries lists lists' entries (every list when none is given).
func (f *fixture) entries(lists ...string) []consent.Entry {
	f.t.Helper()
	var out []consent.Entry
	require.NoError(f.t, f.db.Suppressions(f.ctx, lists, func(e consent.Entry) error {
		out = append(out, e)
		return nil
	}))
	return out
}

// The suppression list: entries are added once (the first keeps its
// reason), read back in order across keyset batches, looked up in
// batches by scope, and removed by scope or whole.
func TestSuppressionList(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		var phones []string
		for i := range 25 { // more than the tests' batch of 10
			phones = append(phones, fmt.Sprintf("49151%08d", i))
		}
		res := f.suppress(mainList, consent.ScopeAll, consent.SourceCLI, phones...)
		require.Equal(t, 25, res.Added)
		require.Equal(t, 0, f.suppress(mainList, consent.ScopeAll, consent.SourceImport, phones[0]).Added, "already there")
		require.Equal(t, 1, f.suppress(mainList, consent.ScopeMarketing, consent.SourceProviderError, phones[0]).Added, "another scope")
		require.Equal(t, 1, f.suppress("portfolio:shop", consent.ScopeAll, consent.SourceKeyword, phones[1]).Added)

		all := f.entries(mainList)
		require.Len(t, all, 26)
		require.Equal(t, consent.Entry{List: mainList, Phone: phones[0], Scope: consent.ScopeAll, Reason: "test", Source: consent.SourceCLI,
			CreatedAt: t0}, all[0], "the first entry stays")
		require.Equal(t, consent.ScopeMarketing, all[1].Scope)
		require.Len(t, f.entries(), 27)
		require.Len(t, f.entries("portfolio:shop"), 1)

		got, err := f.db.Suppressed(f.ctx, consent.Check{Lists: []string{mainList}}, []string{phones[0], phones[24], "4915199999999"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{phones[0]: true, phones[24]: true}, got)

		n, err := f.db.Unsuppress(f.ctx, []string{mainList}, phones[0], consent.ScopeAll)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err = f.db.Suppressed(f.ctx, consent.Check{Lists: []string{mainList}}, []string{phones[0]})
		require.NoError(t, err)
		require.Empty(t, got, "only marketing is left, and a text is no marketing")
		got, err = f.db.Suppressed(f.ctx, consent.Check{Lists: []string{mainList}, Marketing: true}, []string{phones[0]})
		require.NoError(t, err)
		require.True(t, got[phones[0]])
		n, err = f.db.Unsuppress(f.ctx, []string{mainList, "portfolio:shop"}, phones[1], "")
		require.NoError(t, err)
		require.Equal(t, 2, n, "every scope, every list given")

		_, err = f.db.Suppress(f.ctx, []consent.Entry{{List: mainList, Phone: phones[2], Scope: "some", Source: consent.SourceCLI}}, t0)
		require.Error(t, err, "an unknown scope")
	})
}

// A broadcast planned for a person on the suppression list gives them a
// delivery skipped with reason opted_out (and its event), counted by
// status; the others are planned. A marketing template is blocked by scope
// marketing, a utility one is not.
func TestPlanningSkipsOptedOut(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		text := broadcast("promo", 6)
		tpl := broadcast("tpl", 6)
		tpl.Message = templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "1", Category: templates.CategoryUtility}}
		mkt := broadcast("mkt", 6)
		mkt.Message = templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "2"}} // no category: marketing
		f.apply(bundle(text, tpl, mkt), t0)
		rs := recipients(0, 6)
		f.suppress(mainList, consent.ScopeAll, consent.SourceCLI, rs[1].Phone)
		f.suppress(mainList, consent.ScopeMarketing, consent.SourceProviderError, rs[2].Phone)
		f.suppress("account:other", consent.ScopeAll, consent.SourceCLI, rs[3].Phone) // another account's

		for name, skipped := range map[string][]string{"promo": {rs[1].Phone}, "tpl": {rs[1].Phone}, "mkt": {rs[1].Phone, rs[2].Phone}} {
			b := f.broadcast(name)
			f.setStatus(b.ID, campaign.StatusRunning)
			refs, err := f.db.PlanNext(f.ctx, b.ID, 4, t0) // a window: the rest later
			require.NoError(t, err)
			more, err := f.db.PlanNext(f.ctx, b.ID, 10, t0)
			require.NoError(t, err)
			require.Len(t, append(refs, more...), 6-len(skipped), name)
			var got []string
			require.NoError(t, f.db.Export(f.ctx, b.ID, func(r delivery.Row) error {
				if r.Status == delivery.Skipped {
					got = append(got, r.Phone)
					require.Equal(t, consent.ReasonOptedOut, r.ErrorCode)
					require.Equal(t, []string{"skipped"}, eventStatuses(f.events(r.ID)))
				} else {
					require.Equal(t, delivery.Planned, r.Status)
				}
				return nil
			}))
			require.Equal(t, skipped, got, name)
			skips, err := f.db.SkipCounts(f.ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, map[string]int{consent.ReasonOptedOut: len(skipped)}, skips, name)
			require.NoError(t, f.db.FoldCounts(f.ctx))
			counts, err := f.db.CountByStatus(f.ctx, b.ID)
			require.NoError(t, err)
			require.Equal(t, len(skipped), counts[delivery.Skipped], name)
		}
	})
}

// The claim right before the request refuses a recipient who opted out
// after planning; SkipOptedOut then skips the delivery (and says no for
// one that is not suppressed, or no longer pending).
func TestClaimRefusesOptedOut(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("promo", 3, campaign.StatusRunning)
		jobs, err := f.db.Jobs(f.ctx, []int64{refs[0].ID, refs[1].ID})
		require.NoError(t, err)
		check := jobs[refs[0].ID].OptOut()
		require.Equal(t, consent.Check{Lists: []string{mainList}}, check)
		f.suppress(mainList, consent.ScopeAll, consent.SourceKeyword, jobs[refs[0].ID].Phone)

		ok, err := f.db.Claim(f.ctx, refs[0], t0, at(time.Minute), nil, check)
		require.NoError(t, err)
		require.False(t, ok, "opted out since planning")
		ok, err = f.db.SkipOptedOut(f.ctx, refs[1], check, t0)
		require.NoError(t, err)
		require.False(t, ok, "not suppressed")
		ok, err = f.db.SkipOptedOut(f.ctx, refs[0], check, t0)
		require.NoError(t, err)
		require.True(t, ok)
		d := f.delivery(refs[0].ID)
		require.Equal(t, "skipped", d.Status)
		require.Equal(t, consent.ReasonOptedOut, d.ErrorCode)
		ok, err = f.db.SkipOptedOut(f.ctx, refs[0], check, t0)
		require.NoError(t, err)
		require.False(t, ok, "no longer pending")

		ok, err = f.db.Claim(f.ctx, refs[1], t0, at(time.Minute), nil, check)
		require.NoError(t, err)
		require.True(t, ok)
		require.False(t, jobs[refs[1].ID].Contacted, "nobody was sent anything yet")
		ok, err = f.db.MarkSent(f.ctx, refs[1], "wamid.1", t0, time.Time{}, at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		job, err := f.db.Job(f.ctx, refs[1].ID)
		require.NoError(t, err)
		require.True(t, job.Contacted)
	})
}

// Opt-out keywords written to the business: the whole text (trimmed,
// without case and accents) opts the writer out of everything and ends
// their enrollments; START opts them back in but leaves what a provider's
// error said; a sentence with "stop" is no keyword; a keyword read again,
// or older than the last one acted on, is not acted on.
func TestRecordInboundKeywords(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b := withSequences(onboarding(false, "Hi", "Day 2"))
		b.Accounts[0].OptOut = consent.Settings{Keywords: consent.Keywords{OptOut: []string{"Désabonner"}, OptIn: []string{"VOLVER"}}}
		f.apply(b, t0)
		acct, err := f.db.OptOutAccountByName(f.ctx, "main")
		require.NoError(t, err)
		require.Equal(t, []string{"Désabonner"}, acct.Keywords.OptOut)
		ann, ben := "4915100000001", "4915100000002"
		_, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: ann}, {Phone: ben}}, t0)
		require.NoError(t, err)
		record := func(phone, text, ref string, at time.Time) consent.Outcome {
			t.Helper()
			out, err := f.db.RecordInbound(f.ctx, acct.ID, []consent.Inbound{{Phone: phone, Text: text, At: at, Ref: ref}}, at)
			require.NoError(t, err)
			return out
		}
		suppressed := func(phone string) bool {
			t.Helper()
			got, err := f.db.Suppressed(f.ctx, consent.Check{Lists: acct.Lists(), Marketing: true}, []string{phone})
			require.NoError(t, err)
			return got[phone]
		}

		require.Equal(t, consent.Outcome{}, record(ann, "please stop sending me this", "m1", at(time.Minute)))
		require.False(t, suppressed(ann), "a sentence is no keyword")
		last, ok, err := f.db.LastInbound(f.ctx, acct.ID, ann)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, at(time.Minute).Equal(last))

		out := record(ann, "  Stop! ", "m2", at(2*time.Minute))
		require.Equal(t, consent.OptOut, out.Action)
		require.Equal(t, []string{"onboarding"}, out.Ended)
		require.True(t, suppressed(ann))
		enr, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollActive: 1, sequence.EnrollExited: 1}, enr)
		require.Equal(t, "wrote STOP", f.entries(mainList)[0].Reason)

		// The operator takes Ann off; reading her conversation again (the
		// same STOP, or an older keyword) does not put her back.
		_, err = f.db.Unsuppress(f.ctx, acct.Lists(), ann, "")
		require.NoError(t, err)
		require.Equal(t, consent.None, record(ann, "STOP", "m2", at(10*time.Minute)).Action, "the same message")
		require.Equal(t, consent.None, record(ann, "STOP", "m0", at(30*time.Second)).Action, "older than the last keyword")
		require.False(t, suppressed(ann))

		// Ben: his own language's words, and a provider's refusal that
		// START does not undo.
		f.suppress(mainList, consent.ScopeMarketing, consent.SourceProviderError, ben)
		require.Equal(t, consent.OptOut, record(ben, "DESABONNER", "b1", at(time.Minute)).Action)
		require.Len(t, f.entries(mainList), 2)
		require.Equal(t, consent.OptIn, record(ben, "volver", "b2", at(2*time.Minute)).Action)
		es := f.entries(mainList)
		require.Len(t, es, 1)
		require.Equal(t, consent.SourceProviderError, es[0].Source)
		require.Equal(t, consent.OptOut, record(ben, "unsubscribe", "", at(3*time.Minute)).Action, "no ref: by time")
		require.Equal(t, consent.OptIn, record(ben, "START", "", at(4*time.Minute)).Action)

		// Several at once, oldest first, as a conversation gives them: the
		// last keyword wins.
		out, err = f.db.RecordInbound(f.ctx, acct.ID, []consent.Inbound{
			{Phone: ann, Text: "STOP", At: at(time.Hour), Ref: "m3"},
			{Phone: ann, Text: "START", At: at(time.Hour + time.Second), Ref: "m4"},
			{Phone: ann, Text: "thanks", At: at(time.Hour + 2*time.Second), Ref: "m5"},
		}, at(time.Hour))
		require.NoError(t, err)
		require.Equal(t, consent.OptIn, out.Action)
		require.False(t, suppressed(ann))
		last, _, err = f.db.LastInbound(f.ctx, acct.ID, ann)
		require.NoError(t, err)
		require.True(t, at(time.Hour+2*time.Second).Equal(last))

		// A conversation history, read again and again, with times of
		// whole seconds: its order decides, and what was acted on is not
		// acted on again.
		cleo := "4915100000003"
		history := []consent.Inbound{
			{Phone: cleo, Text: "STOP", At: at(2 * time.Hour), Ref: "h1", FromHistory: true},
			{Phone: cleo, Text: "START", At: at(2 * time.Hour), Ref: "h2", FromHistory: true},
		}
		for range 2 {
			out, err = f.db.RecordInbound(f.ctx, acct.ID, history, at(2*time.Hour))
			require.NoError(t, err)
			require.False(t, suppressed(cleo))
		}
		require.Equal(t, consent.None, out.Action, "read again")
		history = append(history, consent.Inbound{Phone: cleo, Text: "stop", At: at(2 * time.Hour), Ref: "h3", FromHistory: true})
		out, err = f.db.RecordInbound(f.ctx, acct.ID, history, at(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, consent.OptOut, out.Action)
		require.True(t, suppressed(cleo))
	})
}

// An opt-out read in a conversation history does not skip a delivery when
// it is planned (the send reads the history again, where an opt-in would
// show): the claim refuses it.
func TestHistoryOptOutIsCheckedAtTheClaim(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("promo", 2)), t0)
		b := f.broadcast("promo")
		acct, err := f.db.OptOutAccountByName(f.ctx, "main")
		require.NoError(t, err)
		rs := recipients(0, 2)
		_, err = f.db.RecordInbound(f.ctx, acct.ID, []consent.Inbound{{Phone: rs[0].Phone, Text: "STOP", At: t0, Ref: "h1", FromHistory: true}}, t0)
		require.NoError(t, err)
		f.setStatus(b.ID, campaign.StatusRunning)
		refs, err := f.db.PlanNext(f.ctx, b.ID, 10, t0)
		require.NoError(t, err)
		require.Len(t, refs, 2, "planned, both")
		ok, err := f.db.Claim(f.ctx, refs[0], t0, at(time.Minute), nil, consent.Check{Lists: acct.Lists()})
		require.NoError(t, err)
		require.False(t, ok)
		ok, err = f.db.SkipOptedOut(f.ctx, refs[0], consent.Check{Lists: acct.Lists()}, t0)
		require.NoError(t, err)
		require.True(t, ok)
	})
}

// Enrolling someone on the suppression list ends their enrollment at
// once: its first step is skipped (opted_out), counted apart; a step
// planned after someone opted out of marketing, when it is a marketing
// template, is skipped too and ends the enrollment.
func TestSequencesSkipOptedOut(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		s := onboarding(false, "Hi", "Day 2")
		s.Steps[1].Message = templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{ID: "9", Category: templates.CategoryMarketing}}
		f.apply(withSequences(s), t0)
		ann, ben := "4915100000001", "4915100000002"
		f.suppress(mainList, consent.ScopeAll, consent.SourceImport, ann)
		res, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: ann}, {Phone: ben}}, t0)
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Enrolled: 1, OptedOut: 1}, res)
		r, err := f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{consent.ReasonOptedOut: 1}, r.Steps[0].Skips)

		// Ben's step 1 goes out; then he turns off marketing (131050):
		// step 2, a marketing template, is skipped when it is planned.
		f.suppress(mainList, consent.ScopeMarketing, consent.SourceProviderError, ben)
		var step1 []delivery.Ref
		require.NoError(t, f.db.Gorm().Raw(`SELECT id, gen FROM deliveries WHERE phone = ? AND status = 'planned'`, ben).Scan(&step1).Error)
		require.Len(t, step1, 1)
		ok, err := f.db.Claim(f.ctx, step1[0], t0, at(time.Minute), nil, consent.Check{Lists: []string{mainList}})
		require.NoError(t, err)
		require.True(t, ok, "a text is no marketing")
		ok, err = f.db.MarkStepSent(f.ctx, step1[0], "wamid.b1", t0, time.Time{}, at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		enr, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollExited: 2}, enr)
		r, err = f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{consent.ReasonOptedOut: 1}, r.Steps[1].Skips)
	})
}

// A send refused with 131050 puts its recipient on the account's list for
// marketing (source provider_error); a status webhook or poll that reports
// 130403 (the user blocked the business) for all, ending their
// enrollments. Other codes suppress nobody.
func TestProviderRefusalsSuppress(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("promo", 3, campaign.StatusRunning)
		jobs, err := f.db.Jobs(f.ctx, []int64{refs[0].ID, refs[1].ID, refs[2].ID})
		require.NoError(t, err)
		for _, r := range refs {
			ok, err := f.db.Claim(f.ctx, r, t0, at(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
		}
		_, err = f.db.Finish(f.ctx, refs[0], delivery.Failed, "131050", "(#131050) user stopped marketing", at(time.Second))
		require.NoError(t, err)
		_, err = f.db.Finish(f.ctx, refs[2], delivery.Failed, "131026", "undeliverable", at(time.Second))
		require.NoError(t, err)
		ok, err := f.db.MarkSent(f.ctx, refs[1], "wamid.x", at(time.Second), time.Time{}, at(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		_, err = f.db.ApplyStatus(f.ctx, refs[1].ID, "wamid.x", provider.StatusReport{Status: provider.StatusFailed, Code: "130403"}, at(2*time.Second), nil)
		require.NoError(t, err)

		es := f.entries(mainList)
		require.Len(t, es, 2)
		byPhone := map[string]consent.Entry{}
		for _, e := range es {
			byPhone[e.Phone] = e
			require.Equal(t, consent.SourceProviderError, e.Source)
		}
		require.Equal(t, consent.ScopeMarketing, byPhone[jobs[refs[0].ID].Phone].Scope)
		require.Contains(t, byPhone[jobs[refs[0].ID].Phone].Reason, "131050")
		require.Equal(t, consent.ScopeAll, byPhone[jobs[refs[1].ID].Phone].Scope)
	})
}

// An account's keywords are stored with it; an account with none keeps
// the hash it had before keywords existed.
func TestAccountKeywordsStored(t *testing.T) {
	t.Parallel()
	plain := account("main")
	before := plain.SpecHash()
	withWords := plain
	withWords.OptOut = consent.Settings{Keywords: consent.Keywords{OptOut: []string{"PARAR"}}}
	require.Equal(t, before, plain.SpecHash())
	require.NotEqual(t, before, withWords.SpecHash())
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(&spec.Bundle{Accounts: []spec.Account{plain}}, t0)
		require.Equal(t, []string{"account main updated"}, actions(f.apply(&spec.Bundle{Accounts: []spec.Account{withWords}}, t0)))
		as, err := f.db.OptOutAccounts(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []consent.Account{{ID: as[0].ID, Name: "main", Keywords: withWords.OptOut.Keywords}}, as)
		hooks, err := f.db.WebhookAccounts(f.ctx)
		require.NoError(t, err)
		require.Empty(t, hooks, "no webhook secret")
	})
}

// An account's confirmations become its reply sequences at apply, and a
// keyword acted on plans one confirmation (a step of the reply sequence)
// in the transaction that acts on it: the same message recorded again —
// a duplicated webhook, a history read again — plans none; an account
// without a confirmation plans none. The confirmation is not checked
// against the opt-out it confirms (its job is a Reply: the claim checks
// no list), a later opt-out does not end it, and nobody can be enrolled in
// a reply sequence by hand.
func TestConfirmationPlannedOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		a := account("main")
		a.OptOut.Confirmations = consent.Confirmations{OptOut: "You will get no more messages. Reply START to undo.", OptIn: "Welcome back."}
		changes := actions(f.apply(&spec.Bundle{Accounts: []spec.Account{a}}, t0))
		require.Equal(t, []string{"account main created", "sequence ~opt-out:main created", "sequence ~opt-in:main created"}, changes)
		require.Equal(t, []string{"account main unchanged", "sequence ~opt-out:main unchanged", "sequence ~opt-in:main unchanged"},
			actions(f.apply(&spec.Bundle{Accounts: []spec.Account{a}}, t0)))
		acct, err := f.db.OptOutAccountByName(f.ctx, "main")
		require.NoError(t, err)
		require.Equal(t, a.OptOut.Confirmations, acct.Confirmations)

		ann, ben := "4915100000001", "4915100000002"
		record := func(phone, text, ref string, at time.Time) consent.Outcome {
			t.Helper()
			out, err := f.db.RecordInbound(f.ctx, acct.ID, []consent.Inbound{{Phone: phone, Text: text, At: at, Ref: ref}}, at)
			require.NoError(t, err)
			return out
		}
		replies := func(seq, phone string) []int64 {
			t.Helper()
			var ids []int64
			require.NoError(t, f.db.Gorm().Raw(`SELECT d.id FROM deliveries d JOIN enrollments e ON e.id = d.enrollment_id
				JOIN sequences s ON s.id = e.sequence_id WHERE s.name = ? AND d.phone = ? ORDER BY d.id`, seq, phone).Scan(&ids).Error)
			return ids
		}

		out := record(ann, "STOP", "m1", at(time.Minute))
		require.Equal(t, consent.OptOut, out.Action)
		require.Equal(t, 1, out.Confirmations)
		for range 2 { // the same message again: no second confirmation
			require.Equal(t, consent.Outcome{}, record(ann, "STOP", "m1", at(time.Minute)))
		}
		ids := replies("~opt-out:main", ann)
		require.Len(t, ids, 1)
		require.Equal(t, string(delivery.Planned), f.delivery(ids[0]).Status)

		// Someone on the list for everything: the confirmation goes.
		job, err := f.db.Job(f.ctx, ids[0])
		require.NoError(t, err)
		require.True(t, job.Reply)
		require.Equal(t, "You will get no more messages. Reply START to undo.", job.Message.Text)
		require.NotNil(t, job.Message.OutsideWindow)
		require.True(t, job.Message.OutsideWindow.Skip, "skipped if the window closed meanwhile")
		require.False(t, job.SendBy.IsZero(), "within its deadline")
		// A later opt-out of everything (130403, say) leaves it too.
		_, err = f.db.Suppress(f.ctx, []consent.Entry{{List: acct.List(), Phone: ann, Scope: consent.ScopeAll, Source: consent.SourceProviderError}}, at(2*time.Minute))
		require.NoError(t, err)
		claimed, err := f.db.Claim(f.ctx, job.Ref, at(2*time.Minute), at(3*time.Minute), nil, consent.Check{Lists: acct.Lists()})
		require.NoError(t, err)
		require.False(t, claimed, "a business-initiated send to her would be refused")
		require.Equal(t, consent.Check{}, job.OptOut())
		f.claimAndSendChecked(job.Ref, job.OptOut(), "wamid.confirm1", at(2*time.Minute))
		enr, err := f.db.EnrollmentCounts(f.ctx, "~opt-out:main")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollCompleted: 1}, enr)

		// START: the opt-in confirmation; STOP again later: a second run.
		require.Equal(t, 1, record(ann, "START", "m2", at(3*time.Minute)).Confirmations)
		require.Len(t, replies("~opt-in:main", ann), 1)
		require.Equal(t, 1, record(ann, "STOP", "m3", at(4*time.Minute)).Confirmations)
		require.Len(t, replies("~opt-out:main", ann), 2)

		_, err = f.db.Enroll(f.ctx, "~opt-out:main", []sequence.Enrollee{{Phone: ben}}, t0)
		require.ErrorIs(t, err, store.ErrConflict)

		// Without a confirmation, nothing is planned.
		f.apply(&spec.Bundle{Accounts: []spec.Account{account("main")}}, t0)
		out = record(ben, "STOP", "b1", at(time.Minute))
		require.Equal(t, consent.OptOut, out.Action)
		require.Zero(t, out.Confirmations)
		require.Empty(t, replies("~opt-out:main", ben))
	})
}

// claimAndSendChecked is claimAndSend with the claim checking check.
func (f *fixture) claimAndSendChecked(ref delivery.Ref, check consent.Check, wamid string, now time.Time) {
	f.t.Helper()
	ok, err := f.db.Claim(f.ctx, ref, now, now.Add(time.Minute), nil, check)
	require.NoError(f.t, err)
	require.True(f.t, ok, "claim %v", ref)
	ok, err = f.db.MarkStepSent(f.ctx, ref, wamid, now, now.Add(5*time.Second), now.Add(30*24*time.Hour))
	require.NoError(f.t, err)
	require.True(f.t, ok, "mark sent %v", ref)
}
