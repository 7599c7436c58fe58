package provider

import (
	"errors"
	"fmt"
	"time"
)

// Class is what the campaign engine should do about a failed call.
type Class int

// The error classes, after WHATSAPP.md §4.
const (
	// ClassTransient: retry with back-off (5xx, timeouts, 130429, 131056 ...).
	ClassTransient Class = iota
	// ClassPermanent: this message cannot be sent; fail it, do not retry.
	ClassPermanent
	// ClassAmbiguous: the request may or may not have been accepted (lost
	// answer, dropped connection). Reconcile before sending again.
	ClassAmbiguous
	// ClassHaltCampaign: stop the campaign (template paused or missing ...).
	ClassHaltCampaign
	// ClassHaltAccount: stop everything on the account or number (token
	// revoked, account locked, subscriber limit, spam limit ...).
	ClassHaltAccount
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassPermanent:
		return "permanent"
	case ClassAmbiguous:
		return "ambiguous"
	case ClassHaltCampaign:
		return "halt-campaign"
	case ClassHaltAccount:
		return "halt-account"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Error is a failed provider call. It never contains credentials.
type Error struct {
	Provider   string        // driver name, e.g. "botsailor"
	Op         string        // the call, e.g. "send", "message-status"
	HTTPStatus int           // 0 when no HTTP answer was read
	Code       string        // Meta's error code when the provider passes one
	Message    string        // the provider's message text
	Class      Class         // what to do about it
	RetryAfter time.Duration // from a Retry-After header, if any
	Err        error         // underlying transport error, if any
}

func (e *Error) Error() string {
	s := e.Provider + " " + e.Op + ": "
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf("http %d: ", e.HTTPStatus)
	}
	if e.Code != "" {
		s += "code " + e.Code + ": "
	}
	if e.Message != "" {
		s += e.Message
	} else if e.Err != nil {
		s += e.Err.Error()
	}
	return s + " (" + e.Class.String() + ")"
}

// Unwrap returns the underlying transport error.
func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the Class of a wrapped *Error, else
// ClassTransient (an error we cannot classify is worth retrying).
func ClassOf(err error) Class {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Class
	}
	return ClassTransient
}
