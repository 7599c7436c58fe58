package store_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
)

// TestConcurrentClaimsAndRecords: the send path's writes are group-committed
// on Postgres (many goroutines' calls in one statement), and must keep each
// call's own outcome: of concurrent claims of one delivery exactly one
// wins, of concurrent records of one send exactly one records it (one
// event), and a record that breaks a constraint fails alone.
func TestConcurrentClaimsAndRecords(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		const n, tries = 40, 6
		_, refs := f.planned("spring", n, campaign.StatusRunning)
		require.Len(t, f.markQueued(refs, at(time.Second)), n)
		now := at(time.Minute)

		var won [n]atomic.Int32
		concurrently(t, n*tries, func(i int) error {
			ok, err := f.db.Claim(f.ctx, refs[i%n], now, now.Add(time.Minute), nil, consent.Check{})
			if ok {
				won[i%n].Add(1)
			}
			return err
		})
		for i, r := range refs {
			require.EqualValues(t, 1, won[i].Load(), "claims of delivery %d that won", r.ID)
			d := f.delivery(r.ID)
			require.Equal(t, "sending", d.Status)
			require.Equal(t, 1, d.Attempts, "one claim counted")
		}

		ok, err := f.db.MarkSent(f.ctx, refs[0], "wamid.0", now, time.Time{}, now.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		var recorded [n]atomic.Int32
		recorded[0].Add(1)
		var failed atomic.Int32
		concurrently(t, (n-1)*tries+1, func(i int) error {
			r, wamid := refs[1+i%(n-1)], fmt.Sprintf("wamid.%d", 1+i%(n-1))
			if i == (n-1)*tries {
				r, wamid = refs[1], "wamid.0" // delivery 0's wamid: breaks the unique wamid
			}
			ok, err := f.db.MarkSent(f.ctx, r, wamid, now, time.Time{}, now.Add(time.Hour))
			if err != nil {
				require.Equal(t, "wamid.0", wamid, "only the record that broke the constraint fails: %v", err)
				failed.Add(1)
				return nil
			}
			if ok {
				recorded[1+i%(n-1)].Add(1)
			}
			return nil
		})
		require.LessOrEqual(t, failed.Load(), int32(1))
		for i, r := range refs {
			require.EqualValues(t, 1, recorded[i].Load(), "records of delivery %d that took", r.ID)
			d := f.delivery(r.ID)
			require.Equal(t, "sent", d.Status)
			require.Equal(t, fmt.Sprintf("wamid.%d", i), *d.Wamid)
			require.Equal(t, []string{"sent"}, eventStatuses(f.events(r.ID)), "one event per recorded send")
		}
	})
}

// TestClaimRecheckSetWise: a combined claim still re-checks each
// delivery's own generation and its broadcast's state.
func TestClaimRecheckSetWise(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("running", 10, campaign.StatusRunning)
		_, prefs := f.planned("paused", 10, campaign.StatusPaused)
		now := at(time.Minute)
		var okRunning, okPaused, okOldGen atomic.Int32
		concurrently(t, 30, func(i int) error {
			var (
				ok  bool
				err error
			)
			switch i % 3 {
			case 0:
				ok, err = f.db.Claim(f.ctx, refs[i/3], now, now.Add(time.Minute), nil, consent.Check{})
				if ok {
					okRunning.Add(1)
				}
			case 1:
				ok, err = f.db.Claim(f.ctx, prefs[i/3], now, now.Add(time.Minute), nil, consent.Check{})
				if ok {
					okPaused.Add(1)
				}
			default:
				r := refs[i/3]
				r.Gen++
				ok, err = f.db.Claim(f.ctx, r, now, now.Add(time.Minute), nil, consent.Check{})
				if ok {
					okOldGen.Add(1)
				}
			}
			if err != nil {
				return errors.Join(fmt.Errorf("call %d", i), err)
			}
			return nil
		})
		require.EqualValues(t, 10, okRunning.Load(), "every delivery of the running broadcast claimed")
		require.Zero(t, okPaused.Load(), "no delivery of the paused broadcast claimed")
		require.Zero(t, okOldGen.Load(), "no claim of another generation")
	})
}
