package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/templates"
	"github.com/wacamp/wacamp/throttle"
)

// TestSendRequest is one test message: the message of the broadcast, or
// of step Step (1-based) of the sequence, named Campaign, rendered for a
// person with Phone (normalised), Name and Vars.
type TestSendRequest struct {
	Campaign    string
	Step        int
	Phone       string
	Name        string
	Vars        map[string]string
	RequestedBy string
}

// TestSendWait is how long a test send waits for its number's next
// departure slot before it is refused as held.
const TestSendWait = 30 * time.Second

// Held is a test send refused by the account's limits: the pair interval
// to this phone, the unique-recipient budget, the frequency cap, or a rate
// slot further than TestSendWait. Nothing was sent; try again after Wait.
type Held struct {
	Reason string
	Wait   time.Duration
}

func (e *Held) Error() string {
	msg := "held by " + e.Reason + "; nothing was sent"
	if e.Wait > 0 {
		msg += "; try again in " + max(e.Wait.Round(time.Second), time.Second).String()
	}
	return msg
}

// ErrOptedOut: the test phone is on the account's suppression list for
// this message.
var ErrOptedOut = errors.New("the phone is on the suppression list for this message; nothing was sent")

// TestSend sends one rendered message of a broadcast or a sequence step to
// a test phone, through the account's real limits (the suppression list,
// the pair interval, the unique-recipient budget, the frequency cap — the
// test counts in them, it is a real message — and a departure slot at the
// number's rate), and records it in test_sends, never in the campaign's
// deliveries or counts. It is sent as written (not a 24-hour-window
// fallback), once: an answer that is lost leaves it "unknown", never sent
// again. A refused send is a *Held or ErrOptedOut; a provider's refusal
// is a recorded "failed" result, not an error.
func (s *Service) TestSend(ctx context.Context, req TestSendRequest) (store.TestSend, error) {
	if s.fleet == nil {
		return store.TestSend{}, errors.New("test-send needs Redis (the number's limits live there)")
	}
	msg, acct, kind, err := s.testMessage(ctx, req)
	if err != nil {
		return store.TestSend{}, err
	}
	rendered, err := msg.Render(templates.RecipientVars(req.Phone, req.Name, req.Vars))
	if err != nil {
		return store.TestSend{}, &InputError{Msg: "the message does not render for this person: " + err.Error()}
	}
	check := consent.CheckOf(acct.Name, acct.Portfolio, rendered)
	sup, err := s.Store.Suppressed(ctx, check, []string{req.Phone})
	if err != nil {
		return store.TestSend{}, err
	}
	if sup[req.Phone] {
		return store.TestSend{}, ErrOptedOut
	}
	now := s.now()
	t := store.TestSend{AccountID: acct.ID, Campaign: req.Campaign, Kind: string(kind), Step: req.Step, Phone: req.Phone,
		RequestedBy: req.RequestedBy, Status: "sending", CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateTestSend(ctx, &t); err != nil {
		return t, err
	}
	finish := func(status, code, text string) (store.TestSend, error) {
		t.Status, t.ErrorCode, t.Error, t.UpdatedAt = status, code, text, s.now()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return t, s.Store.FinishTestSend(fctx, t)
	}
	gate := throttle.Gate{Number: acct.RateKey(), Recipient: req.Phone, PairInterval: acct.PairInterval,
		Ledger: acct.Ledger(), Limit: acct.DailyUniqueLimit, Window: delivery.BudgetWindow,
		Cap: throttle.Cap{Messages: acct.FrequencyCap.Messages, Per: acct.FrequencyCap.Per}, Send: "test:" + strconv.FormatInt(t.ID, 10)}
	// The credentials first: a send that cannot be made takes no rate slot
	// and no recipient's place (budget, pair interval).
	sender, err := s.senders.Sender(ctx, acct)
	if err != nil {
		return finish("failed", "", "not sent: "+err.Error())
	}
	// The rate slot next, holding nothing; then the recipient's place,
	// right before the request (as the send path does).
	wctx, cancel := context.WithTimeout(ctx, TestSendWait)
	err = s.fleet.Wait(wctx, acct.RateKey(), acct.RatePerSecond)
	cancel()
	if err != nil {
		held := &Held{Reason: "the number's rate", Wait: TestSendWait}
		_, ferr := finish("held", "", held.Error())
		return t, errors.Join(held, ferr)
	}
	v, err := s.recipients.Admit(ctx, gate, s.now(), true)
	if err != nil {
		_, ferr := finish("failed", "", "not sent: "+err.Error())
		return t, errors.Join(err, ferr)
	}
	if v.Hold != throttle.HoldNone {
		held := &Held{Reason: v.Hold.String(), Wait: v.Wait}
		_, ferr := finish("held", "", held.Error())
		return t, errors.Join(held, ferr)
	}
	res, err := sender.Send(ctx, req.Phone, rendered)
	if err == nil {
		t.WAMID = res.WAMID
		return finish("sent", "", "")
	}
	var pe *provider.Error
	code := ""
	if errors.As(err, &pe) {
		code = pe.Code
	}
	if provider.ClassOf(err) == provider.ClassAmbiguous || (pe == nil && ctx.Err() != nil) {
		// It may have gone: never sent again, and its place stays taken.
		return finish("unknown", code, "outcome unknown: "+err.Error())
	}
	// Refused: its place in the cap is handed back; the pair interval stays
	// (the request reached the provider).
	_ = s.recipients.Refund(context.WithoutCancel(ctx), gate, v.WithoutPair())
	return finish("failed", code, err.Error())
}

// testMessage finds the message to test and its account.
func (s *Service) testMessage(ctx context.Context, req TestSendRequest) (templates.Message, delivery.Account, Kind, error) {
	b, err := s.Store.BroadcastByName(ctx, req.Campaign)
	if err == nil {
		if req.Step != 0 {
			return templates.Message{}, delivery.Account{}, "", &InputError{Msg: "step: a broadcast has one message; give no step"}
		}
		acct, err := s.Store.Account(ctx, b.AccountID)
		return b.Message, acct, KindBroadcast, err
	}
	if !errors.Is(err, campaign.ErrNotFound) {
		return templates.Message{}, delivery.Account{}, "", err
	}
	seq, acct, err := s.Sequences.Target(ctx, req.Campaign)
	if err != nil {
		return templates.Message{}, delivery.Account{}, "", err
	}
	if req.Step < 1 || req.Step > len(seq.Steps) {
		return templates.Message{}, delivery.Account{}, "", &InputError{Msg: fmt.Sprintf("step: sequence %s has steps 1 to %d", req.Campaign, len(seq.Steps))}
	}
	return seq.Steps[req.Step-1].Message, acct, KindSequence, nil
}
