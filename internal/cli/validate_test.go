package cli_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
)

// startCampaign writes a one-broadcast campaign starting at start with the
// given deadline, and returns its path.
func (w *world) startCampaign(start time.Time, deadline time.Duration) string {
	return w.write("start.yaml", fmt.Sprintf(`accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
broadcasts:
  - name: late
    account: main
    start_at: %s
    deadline: %s
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {text: "Hello"}
`, w.simURL, start.Format(time.RFC3339), deadline))
}

// A start_at further back than the deadline would expire every delivery at
// once: validate and apply refuse it, naming file, line and field, and
// nothing is written. Once a broadcast is stored, its start passing its
// deadline does not stop the file from being applied again.
func TestStartWhoseDeadlinePassedIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	now := time.Now().Truncate(time.Second)
	clock := testclock.New(now)
	w.now = clock.Now
	path := w.startCampaign(now.Add(-3*24*time.Hour), 24*time.Hour)
	for _, cmd := range []string{"validate", "apply"} {
		code, out := w.run(cmd, "-f", path)
		require.Equal(t, 1, code, out)
		require.Regexp(t, regexp.QuoteMeta(path+":13: broadcasts[0].start_at: ")+`.* plus the deadline \(24h\) ended .*, 2d0h ago: every delivery would expire at once`, out)
		require.Contains(t, out, "nothing was written")
	}
	code, out := w.run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no broadcasts")

	// Started an hour ago with a deadline ending in two seconds: accepted,
	// with a warning of how little is left.
	end := now.Add(2 * time.Second)
	path = w.startCampaign(now.Add(-time.Hour), end.Sub(now.Add(-time.Hour)))
	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "warning: "+path+":13: broadcast late: start_at ")
	require.Contains(t, out, "broadcast created   late")

	// The commands' clock passes the deadline.
	clock.Set(end.Add(time.Second))
	code, out = w.run("validate", "-f", path)
	require.Equal(t, 1, code, out, "validate does not read the database")
	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out, "already stored with this start: applying again changes nothing")
	require.Contains(t, out, "broadcast unchanged late")
	require.NotContains(t, out, "start_at")
	require.NotContains(t, out, "broadcast late: ", "an unchanged broadcast gets no estimate of when it starts")
}

// A token the provider calls invalid is an error of validate and apply:
// nothing of that account could be sent. (An unreachable provider stays a
// warning: TestValidateWarnsAboutPlanLimits.)
func TestInvalidTokenIsAnError(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["WRONG_TOKEN"] = "wrong-token-4b1d"
	path := w.write("c.yaml", `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: `+w.simURL+`
    api_token: ${WRONG_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
broadcasts:
  - name: promo
    account: main
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {text: "Hello"}
`)
	for _, cmd := range []string{"validate", "apply"} {
		code, out := w.run(cmd, "-f", path)
		require.Equal(t, 1, code, out)
		require.Contains(t, out, path+":2: account main: the provider refuses the account (check api_token and the account's ids): ")
		require.Contains(t, out, "Invalid API token")
		require.Contains(t, out, "nothing was written")
		require.NotContains(t, out, "wrong-token-4b1d")
	}
	code, out := w.run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no broadcasts")
}

// enroll checks every step of the sequence for each person before anyone
// is enrolled: someone whose later step needs a variable they lack would
// otherwise fail that step days later and could never enroll again.
func TestEnrollRefusesPeopleALaterStepCannotReach(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.sequence(`{after: 0s, message: {text: "Welcome {{name}}!"}}`, `{after: 72h, message: {text: "Your code: {{code}}"}}`)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)

	code, out = w.run("enroll", "onboarding", "--phone", "4915100000001", "--name", "Ann")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "4915100000001: step 2 needs {{code}}, which has no value for them")
	require.Contains(t, out, "nobody was enrolled")

	people := w.write("people.csv", "phone,name,code\n4915100000002,Ben,B2\n4915100000003,Cy,\n4915100000004,,D4\n")
	code, out = w.run("enroll", "onboarding", "-f", people)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, people+":3: 4915100000003: step 2 needs {{code}}")
	require.Contains(t, out, people+":4: 4915100000004: step 1 needs {{name}}")
	require.NotContains(t, out, ":2: ")
	require.Contains(t, out, "2 problem(s); nobody was enrolled")

	code, out = w.run("status", "onboarding")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "enrollments: none")

	code, out = w.run("enroll", "onboarding", "--phone", "4915100000001", "--name", "Ann", "--var", "code=A1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "1 enrolled, 0 skipped")
}

// A people file larger than one enroll batch is streamed: checked, then
// enrolled batch by batch, each number once.
func TestEnrollLargePeopleFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.sequence(`{after: 24h, message: {text: "Welcome {{name}}, {{code}}!"}}`)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	var csv strings.Builder
	csv.WriteString("phone,name,code\n")
	for i := range 2500 {
		fmt.Fprintf(&csv, "49151%08d,P%d,C%d\n", i%2400, i, i) // the last 100 repeat
	}
	code, out = w.run("enroll", "onboarding", "-f", w.write("people.csv", csv.String()))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "enrolling: 1000 of 2400")
	require.Contains(t, out, "enrolling: 2400 of 2400")
	require.Contains(t, out, "2400 enrolled, 0 skipped")
}

// validate --offline checks campaign files where production secrets must
// not be (CI for pull requests): it reads no secret and asks no provider,
// so a base_url changed in a pull request learns nothing. Without
// --offline the same file needs its secrets.
func TestValidateOfflineReadsNoSecretAndCallsNoProvider(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var calls atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(rw, "{}", http.StatusOK)
	}))
	t.Cleanup(ts.Close)
	w.env["PROD_TOKEN"] = "prod-s3cr3t-0123456789"
	path := w.write("c.yaml", `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: `+ts.URL+`/api/v1
    api_token: ${PROD_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
  - name: other
    provider: sobot
    customer_service_window: not_enforced
    base_url: `+ts.URL+`
    api_token: ${UNSET_KEY}
    api_secret_file: /run/secrets/not-on-this-machine
    webhook_secret: ${UNSET_HOOK}
    daily_unique_limit: unlimited
broadcasts:
  - name: promo
    account: main
    audience: {recipients: [{phone: "4915112345678"}]}
    message: {text: "Hello"}
`)
	code, out := w.run("validate", "--offline", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK — 2 account(s)")
	require.Contains(t, out, "offline: secrets were not read and no provider was asked")
	require.Zero(t, calls.Load())
	require.NotContains(t, out, "s3cr3t")

	code, out = w.run("validate", "-f", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "environment variable UNSET_KEY is not set")
	require.Contains(t, out, `"/run/secrets/not-on-this-machine": no such file or directory`)

	code, out = w.run("apply", "--offline", "-f", path) // apply always reads its secrets
	require.Equal(t, 2, code, out)
}

// A local-time broadcast: validate refuses a bad local_time, date or
// window with file, line and field, and prints when the first and last
// zones send; status shows the timing and the progress by zone. The
// commands' clock is fixed the day before 2030-03-31 (Europe's clocks go
// forward that night); nothing reads the real date.
func TestValidateAndStatusOfALocalTimeBroadcast(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.now = testclock.New(time.Date(2030, 3, 30, 12, 0, 0, 0, time.UTC)).Now
	campaign := func(timing string) string {
		return w.write("morning.yaml", fmt.Sprintf(`accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
broadcasts:
  - name: morning
    account: main
%s
    audience: {recipients: [{phone: "4915112345678"}, {phone: "819012345678"}, {phone: "12125550123"}]}
    message: {text: "Good morning"}
`, w.simURL, timing))
	}
	path := campaign(`    local_time: "9.00"
    date: 2030-31-03
    window: {days: [weekdays], from: "09:00", to: "20:00"}`)
	code, out := w.run("validate", "--offline", "-f", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, path+`:13: broadcasts[0].local_time: "9.00" is not a time of day such as 09:00 or 18:30`)
	require.Contains(t, out, path+`:14: broadcasts[0].date: "2030-31-03" is not a date such as 2027-01-15 (YYYY-MM-DD)`)
	require.Contains(t, out, path+`:15: broadcasts[0].window: unknown day "weekdays"`)

	path = campaign(`    local_time: "09:00"
    date: 2030-03-31
    window: {from: "08:00", to: "20:00"}`)
	code, out = w.run("validate", "--offline", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "broadcast morning: local time 09:00 on 2030-03-31 in each recipient's zone: 3 zones, "+
		"first Asia/Tokyo at 2030-03-31T00:00:00Z (Sun 09:00 JST there, 1 recipients), "+
		"last America/New_York at 2030-03-31T13:00:00Z (Sun 09:00 EDT there, 1 recipients)")

	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	code, out = w.run("status", "morning")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "timing     09:00 in each recipient's zone on 2030-03-31; window daily 08:00-20:00 in each recipient's zone\n")
	require.Contains(t, out, "zones      3, earliest first (handed on of recipients)\n")
	require.Regexp(t, `Asia/Tokyo +Sun 2030-03-31 09:00 JST +2030-03-31T00:00:00Z +waiting +0 of 1\n`, out)
	require.Regexp(t, `Europe/Berlin +Sun 2030-03-31 09:00 CEST +2030-03-31T07:00:00Z +waiting +0 of 1\n`, out)
	code, out = w.run("status", "--json", "morning")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, `"local_time": "09:00"`)
	require.Contains(t, out, `"state": "waiting"`)
}
