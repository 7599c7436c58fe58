package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// A sequence's deliveries page as a broadcast's does: keyset pages in
// enrollment then step order, filtered by phone and by state, each row
// with its outcome (an opted-out person's step skipped, opted_out).
func TestSequenceDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seq := e.account() + "sequences:\n  - name: onboarding\n    account: main\n    steps:\n      - {after: 1h, message: {text: \"Hi\"}}\n"
	require.Equal(t, http.StatusOK, e.do("POST", "/v1/apply", rwToken, "application/yaml", []byte(seq)).status)
	people := []map[string]any{{"phone": "31610000001", "name": "Ann"}, {"phone": "31610000002"}, {"phone": "31610000003"}}
	require.Equal(t, http.StatusOK, e.postJSON("/v1/sequences/onboarding/enroll", rwToken, map[string]any{"people": people}).status)
	require.Equal(t, http.StatusOK, e.postJSON("/v1/optouts", rwToken, map[string]any{"phone": "31610000002"}).status)

	type page struct {
		Deliveries []struct {
			Phone, Name, Status string
			ErrorCode           string `json:"error_code"`
			Enrollment          int64
			Step                int
		}
		Next string
	}
	get := func(query string) page {
		t.Helper()
		a := e.do("GET", "/v1/sequences/onboarding/deliveries"+query, roToken, "", nil)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var p page
		require.NoError(t, json.Unmarshal(a.body, &p))
		return p
	}
	p := get("?limit=2")
	require.Len(t, p.Deliveries, 2)
	require.NotEmpty(t, p.Next)
	require.Equal(t, "31610000001", p.Deliveries[0].Phone)
	require.Equal(t, "Ann", p.Deliveries[0].Name)
	require.Equal(t, 1, p.Deliveries[0].Step)
	rest := get("?limit=2&after=" + p.Next)
	require.Len(t, rest.Deliveries, 1)
	require.Empty(t, rest.Next)
	require.Equal(t, "31610000003", rest.Deliveries[0].Phone)
	require.Less(t, p.Deliveries[1].Enrollment, rest.Deliveries[0].Enrollment)

	skipped := get("?state=skipped")
	require.Len(t, skipped.Deliveries, 1)
	require.Equal(t, "31610000002", skipped.Deliveries[0].Phone)
	require.Equal(t, "opted_out", skipped.Deliveries[0].ErrorCode)
	require.Len(t, get("?state=planned").Deliveries, 2)
	one := get("?phone=%2B31+6+1000+0003")
	require.Len(t, one.Deliveries, 1)
	require.Equal(t, "31610000003", one.Deliveries[0].Phone)

	for q, status := range map[string]int{"?after=x": 400, "?state=lost": 400, "?limit=0": 400, "?phone=12": 400} {
		require.Equal(t, status, e.do("GET", "/v1/sequences/onboarding/deliveries"+q, roToken, "", nil).status, q)
	}
	require.Equal(t, http.StatusNotFound, e.do("GET", "/v1/sequences/nothing/deliveries", roToken, "", nil).status)
}
