package sobot

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/wacamp/wacamp/provider/internal/wiretest"
	"github.com/wacamp/wacamp/templates"
)

// FuzzAnswer feeds the driver's sends one answer of any status,
// Retry-After, Location and body: see wiretest.Driver.
func FuzzAnswer(f *testing.F) {
	wiretest.Driver{
		Name:    providerName,
		Secrets: []string{wiretest.HostileToken, wiretest.HostileSecret},
		Samples: []string{sampleSendOK, sampleInvalidMobile, sampleCustomerExists},
		Calls: func(baseURL string, hc *http.Client, log *slog.Logger) []wiretest.Call {
			c := New(Config{BaseURL: baseURL, APIKey: wiretest.HostileToken, APISecret: wiretest.HostileSecret,
				HTTPClient: hc, Logger: log})
			return wiretest.Sends(c, "919970012345", textMsg("Hi"),
				templates.Message{Kind: templates.KindTemplate, Template: &templates.Template{Name: "promo", Language: "en"}})
		},
	}.Fuzz(f)
}
