package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/internal/service"
)

// validate answers the estimates `scheduler validate` prints, as fields:
// of a capped broadcast's recipients, those at the cap; of a free-form
// broadcast's on a window-enforcing account, those inside, outside and
// unknown to the 24-hour window. They read the database only: a read-only
// token gets them, and its validation calls no provider; offline=true
// leaves them uncounted.
func TestValidateEstimates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	phones := []string{"31610000001", "31610000002", "31610000003", "31610000004"}
	doc := func(base string) []byte {
		return []byte(`accounts:
  - name: main
    provider: wabotick
    base_url: ` + base + `
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
    frequency_cap: {messages: 1, per: 168h}
broadcasts:
  - name: promo
    account: main
    audience: {recipients: [{phone: "` + strings.Join(phones, `"}, {phone: "`) + `"}]}
    message:
      text: "Hello"
      outside_window: {template: {id: "313823"}}
`)
	}
	a := e.do("POST", "/v1/apply", rwToken, "application/yaml", doc(e.simURL))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	ctx := context.Background()
	db := e.conns.Store
	b, err := db.BroadcastByName(ctx, "promo")
	require.NoError(t, err)
	_, _, err = db.PlanBatch(ctx, b.ID, 0, 100, time.Now())
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, db.Gorm().Exec(`UPDATE deliveries SET status = 'sent', sent_at = ? WHERE broadcast_id = ? AND phone = ?`,
		now.Add(-time.Hour).UTC(), b.ID, phones[0]).Error)
	acct, _, err := db.AccountID(ctx, "main")
	require.NoError(t, err)
	_, err = db.RecordInbound(ctx, acct, []consent.Inbound{{Phone: phones[0], Text: "hi", At: now.Add(-time.Hour)},
		{Phone: phones[1], Text: "hi", At: now.Add(-30 * time.Hour)}}, now)
	require.NoError(t, err)

	var asked atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	t.Cleanup(trap.Close)
	a = e.do("POST", "/v1/validate", roToken, "application/yaml", doc(trap.URL+"/api/v1"))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.Zero(t, asked.Load(), "a read-only validation called a provider")
	var v struct {
		Estimates struct {
			FrequencyCap map[string]service.CapEstimate    `json:"frequency_cap"`
			Window       map[string]service.WindowEstimate `json:"window"`
		}
	}
	require.NoError(t, json.Unmarshal(a.body, &v))
	require.Equal(t, service.CapEstimate{Cap: "1 per 168h", Messages: 1, Per: "168h", Recipients: 4, Estimated: true, AtCap: 1},
		v.Estimates.FrequencyCap["promo"])
	require.Equal(t, service.WindowEstimate{OutsideWindow: "the fallback template", Estimated: true, People: 4, Inside: 1, Outside: 1,
		Unknown: 2, HistoryReread: true}, v.Estimates.Window["promo"])

	a = e.do("POST", "/v1/validate?offline=true", rwToken, "application/yaml", doc(e.simURL))
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	require.NoError(t, json.Unmarshal(a.body, &v))
	require.False(t, v.Estimates.FrequencyCap["promo"].Estimated)
	require.Equal(t, "not estimated offline", v.Estimates.FrequencyCap["promo"].NotEstimated)
	require.Equal(t, "not estimated offline", v.Estimates.Window["promo"].NotEstimated)
}
