package cli

import (
	"fmt"

	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/webhook"
)

// weakWebhookSecrets names each account whose webhook secret is shorter
// than webhook.MinSecretLen: the receiver refuses its webhooks, so validate
// and apply refuse it. The secret itself is never shown.
func weakWebhookSecrets(b *spec.Bundle, getenv func(string) string) []string {
	var out []string
	for _, a := range b.Accounts {
		if a.WebhookSecretRef == "" {
			continue
		}
		if s, err := spec.ResolveToken(a.WebhookSecretRef, getenv); err == nil && len(s) < webhook.MinSecretLen {
			out = append(out, fmt.Sprintf("account %s: webhook_secret is shorter than %d characters; the webhook receiver refuses this account's webhooks (e.g. openssl rand -hex 16)", a.Name, webhook.MinSecretLen))
		}
	}
	return out
}
