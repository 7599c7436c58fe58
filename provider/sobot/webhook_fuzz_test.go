package sobot

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wacamp/wacamp/internal/hostile"
)

// FuzzParseWebhook: whatever body the parser accepts, its events can be
// queued and stored (see hostile.FuzzParser).
func FuzzParseWebhook(f *testing.F) {
	hostile.FuzzParser(f, ParseWebhook, webhookSamples(f)...)
}

// webhookSamples are the document's webhook samples (testdata).
func webhookSamples(f *testing.F) []string {
	names, err := filepath.Glob("testdata/webhook_*.json")
	if err != nil || len(names) == 0 {
		f.Fatalf("no webhook samples: %v", err)
	}
	var out []string
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}
