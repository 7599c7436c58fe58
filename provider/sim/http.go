package sim

import (
	"encoding/json"
	"net/http"
	"time"
)

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	write(w, status, b, err)
}

// WriteLinedJSON answers with v as JSON over several lines without
// indentation, the way some docs print their samples.
func WriteLinedJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "")
	write(w, status, b, err)
}

func write(w http.ResponseWriter, status int, b []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Unavailable answers HTTP 503 with Retry-After: 1, as a gateway in
// trouble does, before the send is accepted (the Fail5xxRate fault).
func Unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
}

// ServerError answers a bare HTTP 500 HTML page: the server failed after
// it acted (the Fail500Rate fault).
func ServerError(w http.ResponseWriter) {
	http.Error(w, "<html><body><h1>500 Internal Server Error</h1></body></html>", http.StatusInternalServerError)
}

// HangUp closes the connection without an answer: the request reached the
// simulator, the client never learns what happened (for the simulators'
// dropped-answer faults).
func HangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 cannot hijack; aborting the handler resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// Delay waits d before a simulator answers r; false when the client gave
// up meanwhile (the simulator then answers nothing).
func Delay(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// ValidPhone reports whether p is a phone number as WhatsApp takes it:
// 8–15 digits.
func ValidPhone(p string) bool {
	if len(p) < 8 || len(p) > 15 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
