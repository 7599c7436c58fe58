package api_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The suppression list through the API means what `scheduler optout`
// does: add (ending the person's enrollments, source api), add again
// (nothing changed), a bad phone or scope refused as JSON, an unknown
// account 404; list pages with phones in full; a read-only token reads and
// is refused every write; remove.
func TestOptouts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seq := e.account() + "sequences:\n  - name: onboarding\n    account: main\n    steps:\n      - {after: 1h, message: {text: \"Hi\"}}\n"
	require.Equal(t, http.StatusOK, e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(seq)).status)
	enroll := e.postJSON("/v1/sequences/onboarding/enroll", rwToken, map[string]any{"people": []map[string]any{{"phone": "31610000001"}}})
	require.Equal(t, http.StatusOK, enroll.status, "%s", enroll.body)

	add := e.postJSON("/v1/optouts", rwToken, map[string]any{"phone": "+31 6 1000 0001", "reason": "asked by mail"})
	require.Equal(t, http.StatusOK, add.status, "%s", add.body)
	require.JSONEq(t, `{"list": "account:main", "phone": "31610000001", "scope": "all", "added": true, "ended_enrollments": ["onboarding"]}`, string(add.body))
	again := e.postJSON("/v1/optouts", rwToken, map[string]any{"phone": "31610000001", "account": "main"})
	require.JSONEq(t, `{"list": "account:main", "phone": "31610000001", "scope": "all", "added": false, "ended_enrollments": []}`, string(again.body))
	mkt := e.postJSON("/v1/optouts", rwToken, map[string]any{"phone": "31610000002", "scope": "marketing"})
	require.Equal(t, http.StatusOK, mkt.status, "%s", mkt.body)

	for _, c := range []struct {
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{map[string]any{"phone": "12"}, http.StatusBadRequest, "bad_request", `phone "12"`},
		{map[string]any{"phone": "31610000003", "scope": "some"}, http.StatusBadRequest, "bad_request", `scope "some": want all or marketing`},
		{map[string]any{"phone": "31610000003", "account": "nope"}, http.StatusNotFound, "no_account", `"nope" (the accounts are main)`},
		{map[string]any{"phone": "31610000003", "colour": "red"}, http.StatusBadRequest, "bad_request", "unknown field"},
	} {
		a := e.postJSON("/v1/optouts", rwToken, c.body)
		require.Equal(t, c.status, a.status, "%v: %s", c.body, a.body)
		m := a.json(t)
		require.Equal(t, c.code, m["code"], "%v", c.body)
		require.Contains(t, m["error"], c.msg)
	}

	// Read-only: lists, and every write is refused.
	page := e.do("GET", "/v1/optouts?limit=1", roToken, "", nil)
	require.Equal(t, http.StatusOK, page.status, "%s", page.body)
	m := page.json(t)
	require.Len(t, m["optouts"], 1)
	first := m["optouts"].([]any)[0].(map[string]any)
	require.Equal(t, "31610000001", first["phone"], "phones in full, as optout list --json")
	require.Equal(t, "asked by mail", first["reason"])
	require.Equal(t, "api", first["source"])
	next := m["next"].(string)
	page = e.do("GET", "/v1/optouts?account=main&limit=1&after="+next, roToken, "", nil)
	m = page.json(t)
	require.Equal(t, "31610000002", m["optouts"].([]any)[0].(map[string]any)["phone"])
	last := e.do("GET", "/v1/optouts?limit=1&after="+m["next"].(string), roToken, "", nil).json(t)
	require.Empty(t, last["optouts"])
	require.NotContains(t, last, "next")
	require.Equal(t, http.StatusBadRequest, e.do("GET", "/v1/optouts?after=%21%21", roToken, "", nil).status)
	require.Equal(t, http.StatusNotFound, e.do("GET", "/v1/optouts?account=nope", roToken, "", nil).status)
	for _, p := range []string{"/v1/optouts", "/v1/optouts/remove", "/v1/optouts/import"} {
		a := e.do("POST", p, roToken, "application/json", []byte(`{"phone": "31610000001"}`))
		require.Equal(t, http.StatusForbidden, a.status, p)
		require.Equal(t, "forbidden", a.json(t)["code"])
	}

	rm := e.postJSON("/v1/optouts/remove", rwToken, map[string]any{"phone": "31610000001"}, "Idempotency-Key", "rm-1")
	require.Equal(t, http.StatusOK, rm.status, "%s", rm.body)
	require.JSONEq(t, `{"account": "main", "lists": ["account:main"], "phone": "31610000001", "removed": 1}`, string(rm.body))
	replay := e.postJSON("/v1/optouts/remove", rwToken, map[string]any{"phone": "31610000001"}, "Idempotency-Key", "rm-1")
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	require.JSONEq(t, string(rm.body), string(replay.body), "the first answer, not the second run's removed 0")
	rm = e.postJSON("/v1/optouts/remove", rwToken, map[string]any{"phone": "31610000001"})
	require.Contains(t, string(rm.body), `"removed": 0`)
}

// An import is checked whole before anything is written (a bad row: 422
// with each problem's line, nothing written), then written; concurrent
// retries with one Idempotency-Key import once; the export reads back
// what was imported, as `scheduler optout export` writes it.
func TestOptoutImportExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	require.Equal(t, http.StatusOK, e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(e.account())).status)

	bad := "phone,scope\n31610000005,all\n12,all\n31610000006,some\n"
	a := e.do("POST", "/v1/optouts/import", rwToken, "text/csv", []byte(bad))
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)
	m := a.json(t)
	require.Equal(t, "invalid_rows", m["code"])
	require.Equal(t, "body: 2 problem(s); nothing was imported", m["error"])
	text := fmt.Sprint(m["problems"])
	require.Contains(t, text, "body:3: row 3 phone:")
	require.Contains(t, text, `body:4: row 4 scope: "some" must be all or marketing`)
	require.NotContains(t, string(a.body), "wacamp-optout-import", "no temporary path in an answer")
	require.Empty(t, e.do("GET", "/v1/optouts", rwToken, "", nil).json(t)["optouts"], "nothing was written")
	a = e.do("POST", "/v1/optouts/import?scope=some", rwToken, "text/csv", []byte("phone\n31610000005\n"))
	require.Equal(t, http.StatusBadRequest, a.status, "%s", a.body)
	a = e.do("POST", "/v1/optouts/import", rwToken, "text/csv", nil)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s", a.body)

	good := "Phone,Scope,Reason,created_at\n+31 6 1000 0005,,,\n31610000006,marketing,form,2026-03-01T09:00:00Z\n31610000005,,,\n"
	const n = 4
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			answers[i] = e.do("POST", "/v1/optouts/import?reason=CRM+unsubscribes", rwToken, "text/csv", []byte(good), "Idempotency-Key", "crm-sync-7")
		})
	}
	wg.Wait()
	replayed := 0
	for _, a := range answers {
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		require.JSONEq(t, `{"list": "account:main", "rows": 3, "added": 2, "already_there": 1, "ended_enrollments": []}`, string(a.body))
		if a.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	require.Equal(t, n-1, replayed)

	ex := e.do("GET", "/v1/optouts/export", roToken, "", nil)
	require.Equal(t, http.StatusOK, ex.status, "%s", ex.body)
	require.Equal(t, "text/csv; charset=utf-8", ex.header.Get("Content-Type"))
	rows, err := csv.NewReader(strings.NewReader(string(ex.body))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"phone", "scope", "reason", "source", "created_at", "list", "zone"},
		{"31610000005", "all", "CRM unsubscribes", "import", rows[1][4], "account:main", "Europe/Amsterdam"},
		{"31610000006", "marketing", "form", "import", "2026-03-01T09:00:00Z", "account:main", "Europe/Amsterdam"},
	}, rows)
	// What the export wrote imports again unchanged.
	again := e.do("POST", "/v1/optouts/import", rwToken, "text/csv", ex.body)
	require.JSONEq(t, `{"list": "account:main", "rows": 2, "added": 0, "already_there": 2, "ended_enrollments": []}`, string(again.body))
	require.Equal(t, http.StatusNotFound, e.do("GET", "/v1/optouts/export?account=nope", roToken, "", nil).status)
}
