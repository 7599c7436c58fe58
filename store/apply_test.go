package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
)

func actions(ch []store.Change) []string {
	out := make([]string, len(ch))
	for i, c := range ch {
		out[i] = c.Kind + " " + c.Name + " " + c.Action
	}
	return out
}

// twoOfEach is a bundle with two accounts and two broadcasts, one with an
// explicit start and one that starts when applied.
func twoOfEach() *spec.Bundle {
	spring := broadcast("spring", 3)
	spring.Duplicates = 1
	summer := broadcast("summer", 2)
	summer.Account, summer.StartAt = "backup", nil
	summer.Message = templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{
		ID: "313823", Vars: []templates.TemplateVar{{Name: "code", Index: 1, Value: "{{code}}"}}}}
	backup := account("backup")
	backup.PhoneNumberID, backup.RatePerSecond = "119060000040021", 12.5
	return &spec.Bundle{Accounts: []spec.Account{account("main"), backup}, Broadcasts: []spec.Broadcast{spring, summer}}
}

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ch := f.apply(twoOfEach(), t0)
		require.Equal(t, []string{"account main created", "account backup created",
			"broadcast spring created", "broadcast summer created"}, actions(ch))
		f.planAll(f.broadcast("spring").ID, 2)
		before := f.snapshot()
		require.Len(t, before["recipients"], 5)
		require.Len(t, before["deliveries"], 3)

		for i, now := range []time.Time{at(time.Hour), at(2 * time.Hour)} {
			// A freshly built, equal bundle: nothing may depend on identity.
			ch = f.apply(twoOfEach(), now)
			require.Equal(t, []string{"account main unchanged", "account backup unchanged",
				"broadcast spring unchanged", "broadcast summer unchanged"}, actions(ch), "apply #%d", i+2)
			require.Equal(t, before, f.snapshot(), "apply #%d changed rows", i+2)
		}
		summer := f.broadcast("summer")
		require.True(t, t0.Equal(summer.StartAt), "start_at of a broadcast without one is when it was first applied, got %s", summer.StartAt)
		require.True(t, t0.Equal(summer.UpdatedAt))
	})
}

func TestApplyEditsScheduledBroadcast(t *testing.T) {
	t.Parallel()
	newText := templates.Message{Kind: templates.KindText, Text: "Hello {{name}}, code {{code}} (edited)"}
	newAudience := append(recipients(2, 1), recipients(100, 3)...) // keeps 49151…02, drops …00 and …01
	later := at(48 * time.Hour)
	for _, tc := range []struct {
		name   string
		edit   func(b *spec.Broadcast)
		detail string
	}{
		{"message", func(b *spec.Broadcast) { b.Message = newText }, "changed [message]"},
		{"audience", func(b *spec.Broadcast) { b.Recipients, b.Duplicates = newAudience, 2 }, "changed [audience]"},
		{"recipient vars", func(b *spec.Broadcast) { b.Recipients[0].Vars["code"] = "NEW" }, "changed [audience]"},
		{"start_at", func(b *spec.Broadcast) { b.StartAt = &later }, "changed [start_at]"},
		{"deadline", func(b *spec.Broadcast) { b.Deadline = time.Hour }, "changed [deadline]"},
		{"everything", func(b *spec.Broadcast) {
			b.Message, b.Recipients, b.StartAt, b.Deadline = newText, newAudience, &later, time.Hour
		}, "changed [message audience start_at deadline]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				orig := broadcast("spring", 3)
				f.apply(bundle(orig), t0)
				id := f.broadcast("spring").ID
				f.planAll(id, 1000)
				oldRecipients, oldDeliveries := f.dump("recipients"), f.dump("deliveries")

				edited := broadcast("spring", 3)
				tc.edit(&edited)
				now := at(time.Minute)
				ch := f.apply(bundle(edited), now)
				require.Equal(t, []store.Change{
					{Kind: "account", Name: "main", Action: "unchanged"},
					{Kind: "broadcast", Name: "spring", Action: "updated", Detail: tc.detail},
				}, ch)

				got := f.broadcast("spring")
				require.Equal(t, id, got.ID)
				require.Equal(t, campaign.StatusScheduled, got.Status)
				require.Equal(t, edited.Message, got.Message)
				require.True(t, edited.StartAt.Equal(got.StartAt), "start_at %s", got.StartAt)
				require.Equal(t, edited.Deadline, got.Deadline)
				require.Equal(t, len(edited.Recipients), got.RecipientCount)
				require.Equal(t, edited.Duplicates, got.Duplicates)
				require.True(t, now.Equal(got.UpdatedAt), "updated_at %s", got.UpdatedAt)
				require.Equal(t, phonesOf(edited.Recipients), f.phones(id))

				if strings.Contains(tc.detail, "audience") {
					// The old audience and its plan are gone; the new one plans afresh.
					require.Zero(t, f.count("deliveries", ""), "the old plan must be dropped")
					require.Equal(t, int64(len(edited.Recipients)), f.count("recipients", ""))
					var oldIDs []int64
					require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM recipients WHERE id <= ?`, int64(len(orig.Recipients))).Scan(&oldIDs).Error)
					require.Empty(t, oldIDs, "the old recipient rows must be gone, not kept")
					f.planAll(id, 1000)
					require.Equal(t, int64(len(edited.Recipients)), f.count("deliveries", "broadcast_id = ?", id))
					var vars []string
					require.NoError(t, f.db.Gorm().Raw(`SELECT vars FROM recipients WHERE broadcast_id = ? ORDER BY id`, id).Scan(&vars).Error)
					require.Contains(t, vars[0], `"code":"`+edited.Recipients[0].Vars["code"]+`"`)
				} else {
					require.Equal(t, oldRecipients, f.dump("recipients"), "audience must be left alone")
					require.Equal(t, oldDeliveries, f.dump("deliveries"), "plan must be left alone")
				}

				// And the edit itself is idempotent.
				before := f.snapshot()
				ch = f.apply(bundle(edited), at(time.Hour))
				require.Equal(t, "unchanged", ch[1].Action)
				require.Equal(t, before, f.snapshot())
			})
		})
	}
}

func TestApplyRefusesLockedEditsOfRunningBroadcast(t *testing.T) {
	t.Parallel()
	later := at(time.Hour)
	for _, tc := range []struct {
		name   string
		edit   func(b *spec.Bundle)
		locked string
	}{
		{"message", func(b *spec.Bundle) { b.Broadcasts[0].Message.Text += "!" }, "message"},
		{"audience", func(b *spec.Bundle) { b.Broadcasts[0].Recipients = recipients(0, 4) }, "audience"},
		{"start_at", func(b *spec.Bundle) { b.Broadcasts[0].StartAt = &later }, "start_at"},
		{"account", func(b *spec.Bundle) {
			backup := account("backup")
			b.Accounts = append(b.Accounts, backup)
			b.Broadcasts[0].Account = "backup"
		}, "account"},
		{"message and deadline", func(b *spec.Bundle) {
			b.Broadcasts[0].Message.Text += "!"
			b.Broadcasts[0].Deadline = 48 * time.Hour
		}, "message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				_, refs := f.planned("spring", 3, campaign.StatusRunning)
				f.claimAndSend(refs[0], "wamid.A", at(time.Second))
				before := f.snapshot()

				// The same bundle also edits the account and adds a broadcast:
				// neither may be written when the edit is refused.
				mk := func() *spec.Bundle {
					b := bundle(broadcast("spring", 3), broadcast("extra", 2))
					b.Accounts[0].RatePerSecond = 40
					return b
				}
				b := mk()
				tc.edit(b)
				ch, err := f.db.Apply(f.ctx, b, at(time.Minute))
				require.ErrorIs(t, err, store.ErrConflict)
				require.Nil(t, ch)
				require.Contains(t, err.Error(), "campaigns/spring.yaml:7: ")
				require.Contains(t, err.Error(), `broadcast "spring" is running`)
				require.Contains(t, err.Error(), "its "+tc.locked+" can no longer change")

				require.Equal(t, before, f.snapshot(), "a refused apply must write nothing")
				_, err = f.db.BroadcastByName(f.ctx, "extra")
				require.ErrorIs(t, err, campaign.ErrNotFound)

				// Without the locked edit the rest of the bundle applies.
				ch = f.apply(mk(), at(time.Minute))
				require.Equal(t, []string{"account main updated", "broadcast spring unchanged", "broadcast extra created"}, actions(ch))
				require.Equal(t, campaign.StatusRunning, f.broadcast("spring").Status)
			})
		})
	}
}

func TestApplyRefusesEveryConflictAtOnce(t *testing.T) {
	t.Parallel()
	f := newPostgres(t)
	f.apply(bundle(broadcast("a", 1), broadcast("b", 1)), t0)
	f.setStatus(f.broadcast("a").ID, campaign.StatusRunning)
	f.setStatus(f.broadcast("b").ID, campaign.StatusPaused)
	a, b := broadcast("a", 2), broadcast("b", 1)
	a.Pos.Line, b.Pos.Line = 3, 30
	b.Message.Text = "other"
	orphan := broadcast("orphan", 1)
	orphan.Account, orphan.Pos.Line = "nobody", 12
	before := f.snapshot()

	_, err := f.db.Apply(f.ctx, bundle(a, b, orphan), at(time.Minute))
	require.ErrorIs(t, err, store.ErrConflict)
	require.Contains(t, err.Error(), `campaigns/a.yaml:3: broadcast "a" is running: its audience can`)
	require.Contains(t, err.Error(), `campaigns/b.yaml:30: broadcast "b" is paused: its message can`)
	require.Contains(t, err.Error(), `campaigns/orphan.yaml:12: broadcast "orphan": account "nobody" is not defined`)
	require.Equal(t, before, f.snapshot())
}

func TestApplyEditableOnlyBeforeStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status   campaign.Status
		editable bool
	}{
		{campaign.StatusDraft, true},
		{campaign.StatusScheduled, true},
		{campaign.StatusRunning, false},
		{campaign.StatusPaused, false},
		{campaign.StatusCompleted, false},
		{campaign.StatusCancelled, false},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			t.Parallel()
			f := newPostgres(t)
			f.apply(bundle(broadcast("spring", 2)), t0)
			f.setStatus(f.broadcast("spring").ID, tc.status)
			edited := broadcast("spring", 2)
			edited.Message.Text = "changed"
			_, err := f.db.Apply(f.ctx, bundle(edited), at(time.Minute))
			if tc.editable {
				require.NoError(t, err)
				require.Equal(t, "changed", f.broadcast("spring").Message.Text)
			} else {
				require.ErrorIs(t, err, store.ErrConflict)
				require.NotEqual(t, "changed", f.broadcast("spring").Message.Text)
			}
			require.Equal(t, tc.status, f.broadcast("spring").Status, "apply never moves the lifecycle")
		})
	}
}

func TestApplyTakesNewDeadlineOfRunningBroadcast(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		started, refs := f.planned("spring", 3, campaign.StatusRunning)
		f.claimAndSend(refs[0], "wamid.A", at(time.Second))
		recips, dels, events := f.dump("recipients"), f.dump("deliveries"), f.dump("delivery_events")

		edited := broadcast("spring", 3)
		edited.Deadline = 48 * time.Hour
		edited.StormShare, edited.StormWindow = 0.5, 1000
		now := at(time.Minute)
		ch := f.apply(bundle(edited, broadcast("extra", 1)), now)
		require.Equal(t, []store.Change{
			{Kind: "account", Name: "main", Action: "unchanged"},
			{Kind: "broadcast", Name: "spring", Action: "updated", Detail: "changed [deadline error_storm]"},
			{Kind: "broadcast", Name: "extra", Action: "created", Detail: "1 recipients, starts " + t0.Format(time.RFC3339)},
		}, ch)

		got := f.broadcast("spring")
		require.Equal(t, 48*time.Hour, got.Deadline)
		require.Equal(t, 0.5, got.StormShare)
		require.Equal(t, 1000, got.StormWindow)
		job, err := f.db.Job(f.ctx, refs[1].ID)
		require.NoError(t, err)
		jb, ok := campaign.BroadcastOf(job)
		require.True(t, ok)
		require.Equal(t, 0.5, jb.StormShare)
		require.Equal(t, 1000, jb.StormWindow)
		require.Equal(t, campaign.StatusRunning, got.Status)
		require.True(t, now.Equal(got.UpdatedAt))
		require.Equal(t, started.Message, got.Message)
		require.True(t, started.StartAt.Equal(got.StartAt))
		require.NotNil(t, got.StartedAt)
		require.True(t, started.StartedAt.Equal(*got.StartedAt))
		require.Equal(t, recips, f.dump("recipients")[:3])
		require.Equal(t, dels, f.dump("deliveries"))
		require.Equal(t, events, f.dump("delivery_events"))
	})
}

func TestApplyUpdatesChangedAccount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(a *spec.Account)
	}{
		{"rate", func(a *spec.Account) { a.RatePerSecond = 12.5 }},
		{"phone number id", func(a *spec.Account) { a.PhoneNumberID = "119060000049999" }},
		{"base url", func(a *spec.Account) { a.Provider, a.BaseURL = "botsailor", "https://app.wabotick.com/api/v1" }},
		{"token ref", func(a *spec.Account) { a.TokenRef = "file:/run/secrets/main" }},
		{"bot id", func(a *spec.Account) { a.WhatsAppBotID = 456 }},
		{"recipient limits", func(a *spec.Account) {
			a.PairInterval, a.DailyUniqueLimit, a.Portfolio = 10*time.Second, 2000, "acme"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, f *fixture) {
				f.apply(bundle(broadcast("spring", 1)), t0)
				b := f.broadcast("spring")
				f.setStatus(b.ID, campaign.StatusRunning) // a running broadcast does not pin its account's settings

				edited := bundle(broadcast("spring", 1))
				tc.edit(&edited.Accounts[0])
				now := at(time.Hour)
				ch := f.apply(edited, now)
				require.Equal(t, []string{"account main updated", "broadcast spring unchanged"}, actions(ch))

				got, err := f.db.Account(f.ctx, b.AccountID)
				require.NoError(t, err)
				a := edited.Accounts[0]
				require.Equal(t, delivery.Account{ID: b.AccountID, Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL,
					TokenRef: a.TokenRef, PhoneNumberID: a.PhoneNumberID, WhatsAppBotID: a.WhatsAppBotID,
					RatePerSecond: a.RatePerSecond, PairInterval: a.PairInterval, DailyUniqueLimit: a.DailyUniqueLimit,
					Portfolio: a.Portfolio}, got)

				// The send path reads the same settings with each delivery.
				f.planAll(b.ID, 10)
				refs, err := f.db.NextPlanned(f.ctx, b.ID, 1)
				require.NoError(t, err)
				job, err := f.db.Job(f.ctx, refs[0].ID)
				require.NoError(t, err)
				require.Equal(t, got, job.Account)
				require.Equal(t, int64(1), f.count("accounts", ""))

				var times struct{ CreatedAt, UpdatedAt time.Time }
				require.NoError(t, f.db.Gorm().Raw(`SELECT created_at, updated_at FROM accounts WHERE id = ?`, b.AccountID).Scan(&times).Error)
				require.True(t, t0.Equal(times.CreatedAt), "created_at kept, got %s", times.CreatedAt)
				require.True(t, now.Equal(times.UpdatedAt), "updated_at is the apply's now, got %s", times.UpdatedAt)

				ch = f.apply(edited, at(2*time.Hour))
				require.Equal(t, []string{"account main unchanged", "broadcast spring unchanged"}, actions(ch))
			})
		})
	}
}

// Accounts of one portfolio share one budget: a later apply may not give it
// another size through a different account, and nothing of that apply is
// written.
func TestApplyRefusesPortfolioDisagreement(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		a := account("a")
		a.Portfolio, a.DailyUniqueLimit = "acme", 250
		f.apply(&spec.Bundle{Accounts: []spec.Account{a}}, t0)

		b := account("b")
		b.Portfolio, b.DailyUniqueLimit = "acme", 100000
		_, err := f.db.Apply(f.ctx, &spec.Bundle{Accounts: []spec.Account{b}}, t0)
		require.ErrorIs(t, err, store.ErrConflict)
		require.ErrorContains(t, err, `portfolio "acme" already has account "a" with daily_unique_limit 250, not 100000`)
		require.Equal(t, int64(1), f.count("accounts", ""))

		// Changing both together is fine; so is agreeing.
		a.DailyUniqueLimit, b.DailyUniqueLimit = 2000, 2000
		f.apply(&spec.Bundle{Accounts: []spec.Account{a, b}}, t0)
		c := account("c")
		c.Portfolio, c.DailyUniqueLimit = "acme", 2000
		f.apply(&spec.Bundle{Accounts: []spec.Account{c}}, t0)
		require.Equal(t, int64(3), f.count("accounts", ""))
	})
}

func TestApplyUsesAccountsAlreadyStored(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(), t0)
		ch := f.apply(&spec.Bundle{Broadcasts: []spec.Broadcast{broadcast("spring", 2)}}, t0)
		require.Equal(t, []string{"broadcast spring created"}, actions(ch))
		a, err := f.db.Account(f.ctx, f.broadcast("spring").AccountID)
		require.NoError(t, err)
		require.Equal(t, "main", a.Name)
	})
}

// TestApplyFromYAML goes through spec.Load so the conflict names the
// position the loader really recorded.
func TestApplyFromYAML(t *testing.T) {
	t.Parallel()
	start := t0.Truncate(time.Second) // a second boundary, so the YAML can state it
	spring := `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    api_token: ${STORE_TEST_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
broadcasts:
  - name: spring
    account: main
    start_at: ` + start.In(time.FixedZone("", 2*3600)).Format(time.RFC3339) + `
    deadline: 12h
    audience:
      recipients:
        - {phone: "+49 151 1234 5678", name: Ann, vars: {code: A1}}
        - {phone: "0049 151 1234 5679", name: Ben, vars: {code: B2}}
        - {phone: "+49 151 1234 5678", name: Ann again, vars: {code: A1}}
    message:
      text: "Hi {{name}}, your code is {{code}}"
`
	getenv := func(k string) string {
		if k == "STORE_TEST_TOKEN" {
			return "tok-not-stored"
		}
		return ""
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		dir := t.TempDir()
		path := filepath.Join(dir, "spring.yaml")
		require.NoError(t, os.WriteFile(path, []byte(spring), 0o600))
		b, err := spec.Load(dir, getenv, drivers.Catalog{})
		require.NoError(t, err)
		f.apply(b, t0)
		got := f.broadcast("spring")
		require.Equal(t, 2, got.RecipientCount)
		require.Equal(t, 1, got.Duplicates)
		require.True(t, start.Equal(got.StartAt))
		require.Equal(t, 12*time.Hour, got.Deadline)
		f.setStatus(got.ID, campaign.StatusRunning)
		before := f.snapshot()

		edited := strings.Replace(spring, "your code is", "your new code is", 1)
		require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "t.yaml"), []byte(`broadcasts:
  - name: extra
    account: main
    audience: {recipients: [{phone: "4915100000009"}]}
    message: {text: hello}
`), 0o600))
		b, err = spec.Load(dir, getenv, drivers.Catalog{})
		require.NoError(t, err)
		_, err = f.db.Apply(f.ctx, b, at(time.Minute))
		require.ErrorIs(t, err, store.ErrConflict)
		require.Contains(t, err.Error(), path+":9: broadcast \"spring\" is running")
		require.Equal(t, before, f.snapshot())
		_, err = f.db.BroadcastByName(f.ctx, "extra")
		require.True(t, errors.Is(err, campaign.ErrNotFound))
	})
}
