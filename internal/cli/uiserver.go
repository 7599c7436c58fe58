package cli

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The web UI server's limits: a slow or idle client cannot hold a
// connection for long, and no more than maxUIConns are open at once (a
// browser opens about six).
const (
	uiReadHeaderTimeout = 10 * time.Second
	uiReadTimeout       = 30 * time.Second
	uiWriteTimeout      = time.Minute
	uiIdleTimeout       = time.Minute
	maxUIConns          = 64
)

// uiCSP is the web UI's Content-Security-Policy. The asynqmon page runs
// inline scripts and loads Google's fonts, so scripts and styles are left
// alone; the policy forbids framing (clickjacking), plugins, <base> and
// form submissions to other sites.
const uiCSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"

// HardenUI wraps the web UI's handler h: it refuses state-changing requests
// (anything but GET, HEAD and OPTIONS) that a browser marks as cross-origin
// (Sec-Fetch-Site, or an Origin whose host is not the request's) with 403,
// so another site cannot pause a queue with the user's cached Basic auth;
// and every answer, refusals included, forbids framing and MIME sniffing.
func HardenUI(h http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection().Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", uiCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		csrf.ServeHTTP(w, r)
	})
}

// uiServer returns the web UI's HTTP server for h (already authenticated),
// hardened by HardenUI and with read, write and idle timeouts. Serve it on
// limitConns(ln, maxUIConns).
func uiServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           HardenUI(h),
		ReadHeaderTimeout: uiReadHeaderTimeout,
		ReadTimeout:       uiReadTimeout,
		WriteTimeout:      uiWriteTimeout,
		IdleTimeout:       uiIdleTimeout,
	}
}

// limitConns returns a listener that has at most n of ln's connections
// open at once: Accept waits for one to close before taking another.
func limitConns(ln net.Listener, n int) net.Listener {
	return &connLimit{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{})}
}

type connLimit struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Accept waits for a free slot, then for a connection.
func (l *connLimit) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, free: func() { <-l.slots }}, nil
}

// Close closes the listener and ends a waiting Accept.
func (l *connLimit) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitedConn frees its slot once, on its first Close.
type limitedConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}

// ServeUIOn serves the web UI h (already authenticated) on ln in the
// background, hardened and limited as Serve does; close the returned
// server to stop it.
func ServeUIOn(ln net.Listener, h http.Handler) *http.Server {
	srv := uiServer(h)
	go func() { _ = srv.Serve(limitConns(ln, maxUIConns)) }()
	return srv
}

// LoopbackHostOnly wraps h, served without authentication on a loopback
// address, so that it answers only requests addressed to loopback by name
// or number (Host: 127.0.0.1, [::1] or localhost, any port): a web page
// whose own host name a DNS rebinding points at 127.0.0.1 would otherwise
// reach it as same-origin. Others get 421.
func LoopbackHostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if ip := net.ParseIP(strings.Trim(host, "[]")); !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			http.Error(w, "served without authentication to loopback only: address it as 127.0.0.1, [::1] or localhost", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
