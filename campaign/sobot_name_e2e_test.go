package campaign_test

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
)

// Sobot's customer_name is the recipient's name ("Name of a customer"),
// carried from the audience through the send path, not the phone number.
func TestSobotCustomerNameIsTheRecipientsName(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}}, Knobs: sim.Knobs{DeliverAfter: -1}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "people.csv"), []byte("phone,name\n4915100000001,Ann Lee\n4915100000002,Ben\n"), 0o600))
	b.runProviderYAML(sobotAccount(api.URL)+`broadcasts:
  - name: hello
    account: main
    audience: {csv: people.csv}
    message: {text: "Hello {{name}}"}
`, 2)
	b.waitFor(60*time.Second, "both sent", func() bool { return b.counts("hello")[string(delivery.Sent)] == 2 })
	names := map[string]string{}
	for _, s := range sim.Sends() {
		names[s.Phone] = s.Name
	}
	require.Equal(t, map[string]string{"4915100000001": "Ann Lee", "4915100000002": "Ben"}, names)
}
