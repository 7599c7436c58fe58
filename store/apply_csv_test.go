package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// csvCampaign is a campaign directory whose broadcast "news" has two
// inline recipients and the CSV file audience.csv.
type csvCampaign struct {
	t         *testing.T
	yaml, csv string
}

func newCSVCampaign(t *testing.T, name string, rows ...string) *csvCampaign {
	t.Helper()
	dir := t.TempDir()
	c := &csvCampaign{t: t, yaml: filepath.Join(dir, "campaign.yaml"), csv: filepath.Join(dir, "audience.csv")}
	require.NoError(t, os.WriteFile(c.yaml, []byte(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1/api/v1
    api_token: ${TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
broadcasts:
  - name: `+name+`
    account: main
    audience:
      recipients:
        - {phone: "+49 151 0000 0001", name: Inline One, vars: {code: I1}}
        - {phone: "4915100000002", vars: {code: I2}}
      csv: audience.csv
    message: {text: "Hi {{phone}}, {{code}}"}
`), 0o600))
	c.write(rows...)
	return c
}

// write replaces the CSV file's rows (after its header).
func (c *csvCampaign) write(rows ...string) {
	c.t.Helper()
	require.NoError(c.t, os.WriteFile(c.csv, []byte("phone,name,code,note\n"+strings.Join(rows, "\n")+"\n"), 0o600))
}

func (c *csvCampaign) load() *spec.Bundle {
	c.t.Helper()
	b, err := spec.Load(c.yaml, func(string) string { return "t" }, drivers.Catalog{})
	require.NoError(c.t, err)
	return b
}

// recipientRows returns a broadcast's recipients as stored, in id order.
func (f *fixture) recipientRows(broadcastID int64) []string {
	f.t.Helper()
	var rows []struct{ Phone, Name, Vars string }
	require.NoError(f.t, f.db.Gorm().WithContext(f.ctx).Raw(
		`SELECT phone, name, vars FROM recipients WHERE broadcast_id = ? ORDER BY id`, broadcastID).Scan(&rows).Error)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Phone + " " + r.Name + " " + r.Vars
	}
	return out
}

// A CSV audience is streamed into the database (COPY on Postgres) and
// stored exactly as the same audience held in memory is (as every
// audience was before): the same rows in the same order, the first of
// repeated numbers (inline before CSV) kept, the same counts and hash.
func TestApplyCSVAudienceIsStoredAsBefore(t *testing.T) {
	t.Parallel()
	c := newCSVCampaign(t, "streamed",
		"4915100000003,Ann,A3,",
		"00 49 151 0000 0001,Repeats inline,X,", // inline's number: dropped
		`4915100000004,"Ben ""B""",<A&B>,"two`+"\n"+`lines"`,
		"4915100000003,Ann again,X,", // repeats row 2: dropped
		",,,",                        // empty: skipped
		"4915100000005,,Z,ü",
	)
	streamed := c.load()
	bc := streamed.Broadcasts[0]
	require.NotNil(t, bc.CSV)
	require.Equal(t, 5, bc.RecipientCount())
	require.Equal(t, 2, bc.Duplicates)

	// The same audience, held in memory as Load held it before.
	var all []spec.Recipient
	for r, err := range bc.EachRecipient(context.Background()) {
		require.NoError(t, err)
		all = append(all, r)
	}
	held := bc
	held.Name, held.Recipients, held.CSV = "held", all, nil

	eachStore(t, func(t *testing.T, f *fixture) {
		ch := f.apply(&spec.Bundle{Accounts: streamed.Accounts, Broadcasts: []spec.Broadcast{bc, held}}, t0)
		require.Equal(t, "5 recipients, starts "+t0.Format("2006-01-02T15:04:05Z07:00"), ch[1].Detail)
		s, h := f.broadcast("streamed"), f.broadcast("held")
		require.Equal(t, []string{
			`4915100000001 Inline One {"code":"I1"}`,
			`4915100000002  {"code":"I2"}`,
			`4915100000003 Ann {"code":"A3"}`,
			`4915100000004 Ben "B" {"code":"\u003cA\u0026B\u003e","note":"two\nlines"}`,
			`4915100000005  {"code":"Z","note":"ü"}`,
		}, f.recipientRows(s.ID))
		require.Equal(t, f.recipientRows(h.ID), f.recipientRows(s.ID))
		require.Equal(t, 5, s.RecipientCount)
		require.Equal(t, 2, s.Duplicates)
		var hashes []string
		require.NoError(t, f.db.Gorm().Raw(`SELECT audience_hash FROM broadcasts ORDER BY id`).Scan(&hashes).Error)
		require.Len(t, hashes, 2)
		require.Equal(t, hashes[1], hashes[0], "the streamed hash is the one the audience had in memory")
	})
}

// Applying a CSV audience again: unchanged when the file is; updated (the
// new rows replace the old) when it was edited before validating; and
// refused, nothing written, when it changed between validating and
// applying, whether the broadcast is new or stored.
func TestApplyCSVAudienceAgain(t *testing.T) {
	t.Parallel()
	rows := make([]string, 5*testBatch) // five insert batches on SQLite
	for i := range rows {
		rows[i] = fmt.Sprintf("49152%08d,Person %d,C%d,", i, i, i)
	}
	eachStore(t, func(t *testing.T, f *fixture) {
		c := newCSVCampaign(t, "news", rows...)
		require.Equal(t, []string{"account main created", "broadcast news created"}, actions(f.apply(c.load(), t0)))
		id := f.broadcast("news").ID
		require.Len(t, f.recipientRows(id), len(rows)+2)
		before := f.snapshot()

		require.Equal(t, []string{"account main unchanged", "broadcast news unchanged"}, actions(f.apply(c.load(), at(time.Minute))))
		require.Equal(t, before, f.snapshot())

		// Edited, validated, and edited again before apply: refused,
		// nothing written. (An unchanged audience is not read again.)
		edited := append([]string(nil), rows...)
		edited[40] = "4915200000040,Person 40,FIRST EDIT,"
		c.write(edited...)
		b := c.load()
		edited[40] = "4915200000040,Person 40,EDITED,"
		c.write(edited...)
		_, err := f.db.Apply(f.ctx, b, at(2*time.Minute))
		require.ErrorIs(t, err, spec.ErrAudienceChanged)
		require.ErrorContains(t, err, c.csv+" changed since it was validated (other recipients); validate it again")
		require.Equal(t, before, f.snapshot())

		// Edited, then validated: the new audience replaces the old.
		ch := f.apply(c.load(), at(3*time.Minute))
		require.Equal(t, store.Change{Kind: "broadcast", Name: "news", Action: "updated", Detail: "changed [audience]"}, ch[1])
		got := f.recipientRows(id)
		require.Len(t, got, len(rows)+2)
		require.Equal(t, `4915200000040 Person 40 {"code":"EDITED"}`, got[42])

		// A new broadcast whose file is cut short after validation.
		n := newCSVCampaign(t, "fresh", rows...)
		b = n.load()
		n.write(rows[:10]...)
		_, err = f.db.Apply(f.ctx, b, at(4*time.Minute))
		require.ErrorIs(t, err, spec.ErrAudienceChanged)
		require.ErrorContains(t, err, fmt.Sprintf("(10 recipients, not %d)", len(rows)))
		require.Zero(t, f.count("broadcasts", "name = ?", "fresh"))

		// A row the file did not have when validated: a repeated number.
		b = n.load()
		n.write(append(rows[:10:10], rows[3])...)
		_, err = f.db.Apply(f.ctx, b, at(5*time.Minute))
		require.ErrorIs(t, err, spec.ErrAudienceChanged)
		require.Zero(t, f.count("broadcasts", "name = ?", "fresh"))
	})
}
