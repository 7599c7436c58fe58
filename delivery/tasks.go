package delivery

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types and queues.
const (
	TypeSend      = "campaign:send"
	TypeSendBatch = "campaign:send-batch"
	TypePoll      = "campaign:poll"

	// QueueBroadcast carries send tasks; QueueStatus carries status polls,
	// so a large backlog of polls never starves sends (and vice versa).
	QueueBroadcast = "broadcast"
	QueueStatus    = "status"

	// SendMaxAttempts bounds how often one delivery is handed to the
	// provider after transient failures before it fails. It is counted in
	// Postgres (deliveries.attempts), not by asynq: an archived task would
	// strand its delivery, so send tasks retry (practically) forever and
	// the handler decides when to give up.
	SendMaxAttempts = 10
	// sendTaskRetry is asynq's MaxRetry for send tasks; see SendMaxAttempts.
	sendTaskRetry = 100000
	// pollTaskRetry is asynq's MaxRetry for polls: provider errors are
	// handled by scheduling the next poll, so only database trouble retries.
	pollTaskRetry = 100000
)

// SendPayload names one generation of one delivery.
type SendPayload struct {
	DeliveryID int64 `json:"delivery_id"`
	Gen        int   `json:"gen"`
}

// SendTaskID is the deterministic TaskID of a send task.
func SendTaskID(r Ref) string { return fmt.Sprintf("send:%d:%d", r.ID, r.Gen) }

// NewSendTask returns the send task of one generation of a delivery.
func NewSendTask(r Ref, timeout time.Duration) *asynq.Task {
	b, _ := json.Marshal(SendPayload{DeliveryID: r.ID, Gen: r.Gen}) // cannot fail: two ints
	return asynq.NewTask(TypeSend, b,
		asynq.TaskID(SendTaskID(r)), asynq.Queue(QueueBroadcast),
		asynq.MaxRetry(sendTaskRetry), asynq.Timeout(timeout))
}

// MaxBatch is the most deliveries one batch send task carries.
const MaxBatch = 50

// BatchPayload names the deliveries, each at one generation, that one batch
// send task carries: deliveries of one broadcast, or sequence steps of one
// account, sent one after the other by one worker slot.
type BatchPayload struct {
	Refs [][2]int64 `json:"refs"` // [id, gen]
}

// BatchTaskID is the TaskID of batch send task batch (deliveries.batch).
func BatchTaskID(batch int64) string { return fmt.Sprintf("batch:%d", batch) }

// NewBatchTask returns batch send task batch carrying refs. Its timeout
// covers the deliveries' own (timeout each): the handler starts no new
// delivery once timeout has passed and hands the rest to their own tasks.
func NewBatchTask(batch int64, refs []Ref, timeout time.Duration) *asynq.Task {
	p := BatchPayload{Refs: make([][2]int64, len(refs))}
	for i, r := range refs {
		p.Refs[i] = [2]int64{r.ID, int64(r.Gen)}
	}
	b, _ := json.Marshal(p) // cannot fail: integers
	return asynq.NewTask(TypeSendBatch, b,
		asynq.TaskID(BatchTaskID(batch)), asynq.Queue(QueueBroadcast),
		asynq.MaxRetry(sendTaskRetry), asynq.Timeout(2*timeout+time.Minute))
}

// SendsIn returns how many deliveries a task carries: 1 for a TypeSend
// task, its refs for a TypeSendBatch one, 0 for any other task (or a batch
// whose payload does not decode).
func SendsIn(t *asynq.Task) int {
	switch t.Type() {
	case TypeSend:
		return 1
	case TypeSendBatch:
		var p BatchPayload
		if json.Unmarshal(t.Payload(), &p) != nil {
			return 0
		}
		return len(p.Refs)
	}
	return 0
}

// PollPayload names one status poll of one delivery.
type PollPayload struct {
	DeliveryID int64 `json:"delivery_id"`
	Poll       int   `json:"poll"`
}

// PollTaskID is the deterministic TaskID of a status poll.
func PollTaskID(p PollRef) string { return fmt.Sprintf("poll:%d:%d", p.DeliveryID, p.PollCount) }

// NewPollTask returns the status poll task for p.
func NewPollTask(p PollRef) *asynq.Task {
	b, _ := json.Marshal(PollPayload{DeliveryID: p.DeliveryID, Poll: p.PollCount}) // cannot fail
	return asynq.NewTask(TypePoll, b,
		asynq.TaskID(PollTaskID(p)), asynq.Queue(QueueStatus),
		asynq.MaxRetry(pollTaskRetry), asynq.Timeout(time.Minute))
}
