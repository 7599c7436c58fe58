package store_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
)

func onboarding(reenter bool, texts ...string) spec.Sequence {
	s := spec.Sequence{Name: "onboarding", Account: "main", Timezone: "recipient", Reenter: reenter,
		Pos: spec.Pos{File: "campaigns/seq.yaml", Line: 3}}
	for i, t := range texts {
		s.Steps = append(s.Steps, spec.Step{After: time.Duration(i) * time.Hour, Deadline: 24 * time.Hour,
			Message: templates.Message{Kind: templates.KindText, Text: t}})
	}
	return s
}

func withSequences(ss ...spec.Sequence) *spec.Bundle {
	b := bundle()
	b.Sequences = ss
	return b
}

// Editing a sequence makes a new version; enrollments keep the version they
// started on, new ones take the new one.
func TestApplyVersionsSequences(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		require.Equal(t, []string{"account main created", "sequence onboarding created"}, actions(f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0)))
		require.Equal(t, []string{"account main unchanged", "sequence onboarding unchanged"}, actions(f.apply(withSequences(onboarding(false, "Hi", "Day 2")), t0)))

		res, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001", Name: "Ann"}}, t0)
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Enrolled: 1}, res)

		ch := f.apply(withSequences(onboarding(false, "Hi", "Day 2", "Day 5")), at(time.Hour))
		require.Equal(t, store.Change{Kind: "sequence", Name: "onboarding", Action: "updated",
			Detail: "version 2; running enrollments stay on the version they started"}, ch[1])
		_, version, spec, err := f.db.SequenceSpec(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, 2, version)
		require.Len(t, spec.Steps, 3)
		require.Equal(t, "Day 5", spec.Steps[2].Message.Text)

		_, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000002"}}, at(time.Hour))
		require.NoError(t, err)
		var versions []int
		require.NoError(t, f.db.Gorm().Raw(`SELECT version FROM enrollments ORDER BY id`).Scan(&versions).Error)
		require.Equal(t, []int{1, 2}, versions)

		_, _, _, err = f.db.SequenceSpec(f.ctx, "nope")
		require.ErrorContains(t, err, "not found")
	})
}

func TestEnrollOnceUnlessReentering(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi")), t0)
		ann := sequence.Enrollee{Phone: "4915100000001", Name: "Ann", Vars: map[string]string{"code": "A1"}}
		ben := sequence.Enrollee{Phone: "4915100000002"}
		res, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{ann, ben, ann}, t0)
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Enrolled: 2, Skipped: 1}, res, "the same person twice in one call")
		res, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{ann}, t0)
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Skipped: 1}, res, "already active")

		ok, err := f.db.Unenroll(f.ctx, "onboarding", ann.Phone, "by operator", at(time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Unenroll(f.ctx, "onboarding", ann.Phone, "by operator", at(time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "nothing active any more")
		res, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{ann}, at(time.Hour))
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Skipped: 1}, res, "finished, and the sequence does not re-enter")

		f.apply(withSequences(onboarding(true, "Hi")), at(time.Hour))
		res, err = f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{ann}, at(2*time.Hour))
		require.NoError(t, err)
		require.Equal(t, sequence.EnrollResult{Enrolled: 1}, res, "re-entry once the earlier run ended")
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"active": 2, "unenrolled": 1}, counts)

		_, err = f.db.Enroll(f.ctx, "missing", []sequence.Enrollee{ann}, t0)
		require.ErrorContains(t, err, "not found")
	})
}

// Many processes enrolling the same people at once enroll each once.
func TestEnrollConcurrently(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(true, "Hi")), t0)
		people := make([]sequence.Enrollee, 20)
		for i := range people {
			people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49151%08d", i)}
		}
		var enrolled atomic.Int64
		concurrently(t, 6, func(int) error {
			res, err := f.db.Enroll(f.ctx, "onboarding", people, t0)
			enrolled.Add(int64(res.Enrolled))
			return err
		})
		require.Equal(t, int64(20), enrolled.Load())
		require.Equal(t, int64(20), f.count("enrollments", "status = 'active'"))
	})
}
