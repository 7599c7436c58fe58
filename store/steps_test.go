package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
)

// dueSteps returns the steps due by until.
func (f *fixture) dueSteps(until time.Time) []campaign.DueStep {
	f.t.Helper()
	due, err := f.db.DueSteps(f.ctx, until, nil, 100)
	require.NoError(f.t, err)
	return due
}

// sendStep claims a sequence step and records it sent.
func (f *fixture) sendStep(ref delivery.Ref, wamid string, now time.Time) {
	f.t.Helper()
	ok, err := f.db.Claim(f.ctx, ref, now, now.Add(time.Minute), nil, consent.Check{})
	require.NoError(f.t, err)
	require.True(f.t, ok, "claim %v", ref)
	ok, err = f.db.MarkStepSent(f.ctx, ref, wamid, now, now.Add(5*time.Second), now.Add(24*time.Hour))
	require.NoError(f.t, err)
	require.True(f.t, ok, "mark sent %v", ref)
}

// Enrolling plans step 1; sending step N plans step N+1, due its delay
// after the send; sending the last completes the enrollment.
func TestStepsPlanTheNextOnSend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi {{name}}", "Day 2", "Day 3")), t0) // after 0h, 1h, 2h
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001", Name: "Ann"}}, t0)
		require.NoError(t, err)

		due := f.dueSteps(t0)
		require.Len(t, due, 1)
		require.True(t, due[0].DueAt.Equal(t0))
		job, err := f.db.Job(f.ctx, due[0].ID)
		require.NoError(t, err)
		st, ok := sequence.StepOf(job)
		require.True(t, ok)
		require.Equal(t, 0, st.Step)
		require.Equal(t, "Ann", job.Name)
		_, isBroadcast := campaign.BroadcastOf(job)
		require.False(t, isBroadcast, "a step is not a broadcast")
		require.Equal(t, "Hi {{name}}", job.Message.Text)
		require.Equal(t, sequence.EnrollActive, st.Enrollment)
		require.True(t, job.SendBy.Equal(t0.Add(24*time.Hour)), "deadline 24h after due: %s", job.SendBy)

		rep, err := f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Len(t, rep.Steps, 3)
		require.Equal(t, map[string]int{"planned": 1}, rep.Steps[0].Counts)
		requireTime(t, t0, rep.Steps[0].NextDue, "next due, read back on both databases")
		require.Empty(t, rep.Steps[0].NextWait, "simply due: no reason")
		require.Nil(t, rep.Steps[1].NextDue)

		// Put off (parked): the report says why it waits.
		ok, err = f.db.Defer(f.ctx, due[0].Ref, at(15*time.Minute), "waits until later: account main: api token: environment variable X is not set or is empty", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		rep, err = f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, "waits until later: account main: api token: environment variable X is not set or is empty", rep.Steps[0].NextWait)
		due = f.dueSteps(at(15 * time.Minute))
		require.Len(t, due, 1)

		sent1 := at(10 * time.Minute)
		f.sendStep(due[0].Ref, "wamid.1", sent1)
		require.Empty(t, f.dueSteps(at(time.Hour)), "step 2 is due 1h after step 1 was sent, not after enrollment")
		due = f.dueSteps(sent1.Add(time.Hour))
		require.Len(t, due, 1)
		require.True(t, due[0].DueAt.Equal(sent1.Add(time.Hour)))
		job, err = f.db.Job(f.ctx, due[0].ID)
		require.NoError(t, err)
		st, _ = sequence.StepOf(job)
		require.Equal(t, 1, st.Step)
		require.Equal(t, "wamid.1", st.PrevWAMID)

		// A crash-retried mark (the same step recorded again) plans nothing twice.
		f.sendStep(due[0].Ref, "wamid.2", sent1.Add(time.Hour))
		ok, err = f.db.MarkStepSent(f.ctx, due[0].Ref, "wamid.2", sent1.Add(time.Hour), sent1, sent1)
		require.NoError(t, err)
		require.False(t, ok)
		require.Equal(t, int64(3), f.count("deliveries", "enrollment_id IS NOT NULL"))

		due = f.dueSteps(sent1.Add(3 * time.Hour))
		require.Len(t, due, 1)
		f.sendStep(due[0].Ref, "wamid.3", sent1.Add(3*time.Hour))
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"completed": 1}, counts)
		require.Empty(t, f.dueSteps(at(1000*time.Hour)))
	})
}

// Unenroll and exit skip pending steps at once; a claim after that fails.
func TestEndingEnrollmentsSkipsPendingSteps(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		seq := onboarding(false, "Hi", "Day 2")
		seq.ExitOn = []string{"reply"}
		other := onboarding(false, "Other")
		other.Name = "other"
		f.apply(withSequences(seq, other), t0)
		people := []sequence.Enrollee{{Phone: "4915100000001"}, {Phone: "4915100000002"}}
		_, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
		require.NoError(t, err)
		_, err = f.db.Enroll(f.ctx, "other", people, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 4)
		_, err = f.db.MarkQueued(f.ctx, []delivery.Ref{due[0].Ref, due[1].Ref, due[2].Ref, due[3].Ref}, t0)
		require.NoError(t, err)

		ok, err := f.db.Unenroll(f.ctx, "onboarding", "4915100000001", "asked to stop", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		names, err := f.db.Exit(f.ctx, "4915100000002", "reply", at(time.Second))
		require.NoError(t, err)
		require.Equal(t, []string{"onboarding"}, names, "only the sequence that exits on reply")

		for _, d := range due {
			job, err := f.db.Job(f.ctx, d.ID)
			require.NoError(t, err)
			ok, err := f.db.Claim(f.ctx, d.Ref, at(2*time.Second), at(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			if st, _ := sequence.StepOf(job); st.Sequence == "onboarding" {
				require.Equal(t, delivery.Skipped, job.Status)
				require.False(t, ok, "an ended enrollment's step cannot be claimed")
			} else {
				require.True(t, ok)
			}
		}
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"unenrolled": 1, "exited": 1}, counts)
	})
}

// A step that expires stops its enrollment: later steps are not planned.
func TestExpiredStepStopsEnrollment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0)
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001"}}, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		ok, err := f.db.Finish(f.ctx, due[0].Ref, delivery.Expired, "", "deadline passed", at(25*time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"stopped": 1}, counts)
		require.Empty(t, f.dueSteps(at(1000*time.Hour)))
	})
}

// Due steps carry their account and its rate (the feeder batches each
// account's steps by it). A released step whose batch task could not be
// enqueued is put back to planned under a new generation and is due
// again; a put-back naming another batch, or a step that moved on, changes
// nothing.
func TestDueStepsAccountAndPutBack(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi")), t0)
		people := []sequence.Enrollee{{Phone: "4915100000001"}, {Phone: "4915100000002"}}
		_, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 2)
		var account int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM accounts WHERE name = 'main'`).Scan(&account).Error)
		for _, d := range due {
			require.Equal(t, account, d.AccountID)
			require.Equal(t, 80.0, d.Rate)
		}
		refs := []delivery.Ref{due[0].Ref, due[1].Ref}
		marked, err := f.db.MarkBatches(f.ctx, refs, []int64{7, 7}, t0)
		require.NoError(t, err)
		require.Len(t, marked, 2)
		require.Empty(t, f.dueSteps(t0), "released")

		n, err := f.db.PutBackSteps(f.ctx, 8, refs, t0)
		require.NoError(t, err)
		require.Zero(t, n, "another batch's")
		ok, err := f.db.Claim(f.ctx, due[1].Ref, t0, at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		n, err = f.db.PutBackSteps(f.ctx, 7, refs, t0)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the claimed one moved on")
		again := f.dueSteps(t0)
		require.Len(t, again, 1)
		require.Equal(t, delivery.Ref{ID: due[0].ID, Gen: due[0].Gen + 1}, again[0].Ref)
		job, err := f.db.Job(f.ctx, due[0].ID)
		require.NoError(t, err)
		require.Equal(t, delivery.Planned, job.Status)
	})
}

// NextStepDue is the earliest planned step of an active enrollment: what
// the scheduler's release loop sleeps until.
func TestNextStepDue(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi")), t0)
		_, ok, err := f.db.NextStepDue(f.ctx, time.Time{}, nil)
		require.NoError(t, err)
		require.False(t, ok, "nothing planned")

		_, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001"}}, at(time.Minute))
		require.NoError(t, err)
		_, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000002"}}, at(2*time.Minute))
		require.NoError(t, err)
		next, ok, err := f.db.NextStepDue(f.ctx, time.Time{}, nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, next.Equal(at(time.Minute)), "next %s", next)
		next, ok, err = f.db.NextStepDue(f.ctx, at(time.Minute), nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, next.Equal(at(2*time.Minute)), "the next due after a time: %s", next)
		seq, _, _, err := f.db.SequenceSpec(f.ctx, "onboarding")
		require.NoError(t, err)
		_, ok, err = f.db.NextStepDue(f.ctx, time.Time{}, []int64{seq})
		require.NoError(t, err)
		require.False(t, ok, "the only sequence is left out")
		next, ok, err = f.db.NextStepDue(f.ctx, time.Time{}, []int64{seq + 1})
		require.NoError(t, err)
		require.True(t, ok, "another sequence left out")
		require.True(t, next.Equal(at(time.Minute)), "next %s", next)

		ended, err := f.db.Unenroll(f.ctx, "onboarding", "4915100000001", "test", t0)
		require.NoError(t, err)
		require.True(t, ended)
		next, ok, err = f.db.NextStepDue(f.ctx, time.Time{}, nil)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, next.Equal(at(2*time.Minute)), "an ended enrollment's step is not next: %s", next)
	})
}

// Steps recorded at once (many workers' sends, group-committed into shared
// rounds on Postgres) each plan their own enrollment's next step once: the
// second step of every enrollment is planned, due its delay after its own
// send, and recording all of them again changes nothing; the last steps,
// recorded at once, complete every enrollment.
func TestStepsRecordedAtOncePlanEachNextStep(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0) // after 0h, 1h
		const n = 60
		people := make([]sequence.Enrollee, n)
		for i := range people {
			people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49151%08d", i)}
		}
		_, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, n)

		// Each step is sent a second apart, so each enrollment's next step
		// shows it was timed from its own send.
		sentAt := make(map[string]time.Time, n)
		markAll := func(due []campaign.DueStep, claim bool, want bool) {
			t.Helper()
			var wg sync.WaitGroup
			errs := make([]error, len(due))
			oks := make([]bool, len(due))
			for i, d := range due {
				now := at(time.Duration(i) * time.Second)
				if claim {
					ok, err := f.db.Claim(f.ctx, d.Ref, now, now.Add(time.Minute), nil, consent.Check{})
					require.NoError(t, err)
					require.True(t, ok)
				}
				job, err := f.db.Job(f.ctx, d.ID)
				require.NoError(t, err)
				sentAt[job.Phone] = now
				wg.Go(func() {
					oks[i], errs[i] = f.db.MarkStepSent(f.ctx, d.Ref, fmt.Sprintf("wamid.%d", d.ID), now, time.Time{}, now.Add(time.Hour))
				})
			}
			wg.Wait()
			for i := range due {
				require.NoError(t, errs[i])
				require.Equal(t, want, oks[i], "step %d recorded", i)
			}
		}
		markAll(due, true, true)
		markAll(due, false, false) // recorded again: nothing changes
		require.Equal(t, int64(2*n), f.count("deliveries", "enrollment_id IS NOT NULL"), "one second step each")

		second := f.dueSteps(at(1000 * time.Hour))
		require.Len(t, second, n)
		for _, d := range second {
			job, err := f.db.Job(f.ctx, d.ID)
			require.NoError(t, err)
			st, _ := sequence.StepOf(job)
			require.Equal(t, 1, st.Step)
			require.True(t, d.DueAt.Equal(sentAt[job.Phone].Add(time.Hour)), "%s: due %s, sent %s", job.Phone, d.DueAt, sentAt[job.Phone])
		}
		markAll(second, true, true)
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"completed": n}, counts)
	})
}

// StepLanes tells the release, per sequence, whether steps are due and
// how many are in flight (queued, or sending and not awaiting a settle);
// DueSteps takes at most the asked number of each sequence's earliest due
// steps, and steps enrolled in each sequence carry it (the release's lane).
func TestStepLanesAndDueStepsPerSequence(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.applyTwoSequences()
		people := func(from, n int) []sequence.Enrollee {
			out := make([]sequence.Enrollee, n)
			for i := range out {
				out[i] = sequence.Enrollee{Phone: fmt.Sprintf("49151%08d", from+i)}
			}
			return out
		}
		_, err := f.db.Enroll(f.ctx, "onboarding", people(0, 3), t0)
		require.NoError(t, err)
		_, err = f.db.Enroll(f.ctx, "onboarding", people(3, 2), at(time.Second)) // due a second later
		require.NoError(t, err)
		_, err = f.db.Enroll(f.ctx, "second", people(10, 2), at(time.Minute)) // not due at t0+1s
		require.NoError(t, err)
		var ids []int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM sequences ORDER BY name`).Scan(&ids).Error)
		onb, sec := ids[0], ids[1]
		var unlabelled int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries d JOIN enrollments e ON e.id = d.enrollment_id
			WHERE d.sequence_id IS NULL OR d.sequence_id <> e.sequence_id`).Scan(&unlabelled).Error)
		require.Zero(t, unlabelled, "every step names its enrollment's sequence")

		lanes, err := f.db.StepLanes(f.ctx, at(time.Second))
		require.NoError(t, err)
		require.Len(t, lanes, 1, "only the sequence with due steps: %+v", lanes)
		require.Equal(t, onb, lanes[0].SequenceID)
		require.True(t, lanes[0].Due)
		require.Zero(t, lanes[0].InFlight)
		require.Equal(t, 80.0, lanes[0].Rate)

		due, err := f.db.DueSteps(f.ctx, at(time.Second), map[int64]int{onb: 2, sec: 5}, 0)
		require.NoError(t, err)
		require.Len(t, due, 2, "at most 2 of onboarding, none of second is due")
		for _, d := range due {
			require.Equal(t, onb, d.SequenceID)
			require.True(t, d.DueAt.Equal(t0), "the earliest first: %s", d.DueAt)
		}
		// Two queued, one of them then claimed (sending): both in flight;
		// a sending step awaiting its settle is not.
		marked, err := f.db.MarkBatches(f.ctx, []delivery.Ref{due[0].Ref, due[1].Ref}, []int64{7, 7}, at(time.Second))
		require.NoError(t, err)
		require.Len(t, marked, 2)
		ok, err := f.db.Claim(f.ctx, due[0].Ref, at(time.Second), at(time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		lanes, err = f.db.StepLanes(f.ctx, at(time.Minute))
		require.NoError(t, err)
		require.Len(t, lanes, 2)
		require.Equal(t, campaign.StepLane{SequenceID: onb, AccountID: lanes[0].AccountID, Rate: 80, Due: true, InFlight: 2}, lanes[0])
		require.Equal(t, campaign.StepLane{SequenceID: sec, AccountID: lanes[0].AccountID, Rate: 80, Due: true, InFlight: 0}, lanes[1])
		require.NoError(t, f.db.Gorm().Exec(`UPDATE deliveries SET settle = ? WHERE id = ?`, delivery.SettleAwaiting, due[0].ID).Error)
		lanes, err = f.db.StepLanes(f.ctx, at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, lanes[0].InFlight, "awaiting a settle is not in flight")

		all, err := f.db.DueSteps(f.ctx, at(time.Minute), nil, 4)
		require.NoError(t, err)
		require.Len(t, all, 4, "nil take: at most limit in all")
		require.True(t, all[0].DueAt.Equal(t0) && all[2].DueAt.Equal(at(time.Second)) && all[3].DueAt.Equal(at(time.Minute)),
			"earliest first across sequences: %+v", all)
		require.Equal(t, sec, all[3].SequenceID)
	})
}

// A step inserted without its sequence (by a worker of an earlier version
// during a rolling upgrade) still names it, so the release finds it.
func TestStepInsertedWithoutItsSequenceNamesIt(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0)
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001"}}, t0)
		require.NoError(t, err)
		require.NoError(t, f.db.Gorm().Exec(`INSERT INTO deliveries (enrollment_id, step, phone, status, due_at, updated_at)
			SELECT id, 1, phone, 'planned', ?, ? FROM enrollments`, t0, t0).Error)
		due := f.dueSteps(t0)
		require.Len(t, due, 2, "both steps found by their sequence")
		require.Equal(t, due[0].SequenceID, due[1].SequenceID)
		lanes, err := f.db.StepLanes(f.ctx, t0)
		require.NoError(t, err)
		require.Len(t, lanes, 1)
		require.True(t, lanes[0].Due)
	})
}

// The scheduler's metrics read each sequence's steps in flight and its
// earliest planned step's due time (none planned: zero).
func TestSequenceStepStates(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.applyTwoSequences()
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001"}, {Phone: "4915100000002"}}, at(-time.Minute))
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 2)
		marked, err := f.db.MarkBatches(f.ctx, []delivery.Ref{due[0].Ref}, []int64{7}, t0)
		require.NoError(t, err)
		require.Len(t, marked, 1)
		got, err := f.db.SequenceStepStates(f.ctx)
		require.NoError(t, err)
		require.Equal(t, []store.SequenceSteps{
			{Name: "onboarding", InFlight: 1, OldestDue: at(-time.Minute)},
			{Name: "second"},
		}, got)
	})
}

// applyTwoSequences applies the sequences onboarding and second, on the
// same account.
func (f *fixture) applyTwoSequences() {
	f.t.Helper()
	second := onboarding(false, "Other")
	second.Name = "second"
	f.apply(withSequences(onboarding(false, "Hi"), second), t0)
}

// Recording a step plans the next one from the version its enrollment is
// on, also where the record rounds keep decoded versions (Postgres): after
// a new version that waits longer, an enrollment on the old version keeps
// the old wait and one on the new version gets the new one.
func TestStepsRecordedPlanFromTheirOwnVersion(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0) // step 2 one hour after step 1
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001", Name: "Ann"}}, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 1)
		f.sendStep(due[0].Ref, "wamid.a1", t0) // version 1 read (and kept)

		v2 := onboarding(false, "Hi", "Day 2")
		v2.Steps[1].After = 3 * time.Hour
		f.apply(withSequences(v2), at(time.Minute))
		_, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000002", Name: "Bob"}}, at(time.Minute))
		require.NoError(t, err)
		due = f.dueSteps(at(time.Minute))
		require.Len(t, due, 1)
		f.sendStep(due[0].Ref, "wamid.b1", at(time.Minute))

		due = f.dueSteps(at(5 * time.Hour))
		require.Len(t, due, 2)
		require.True(t, due[0].DueAt.Equal(t0.Add(time.Hour)), "Ann, version 1: %s", due[0].DueAt)
		require.True(t, due[1].DueAt.Equal(at(time.Minute).Add(3*time.Hour)), "Bob, version 2: %s", due[1].DueAt)
	})
}
