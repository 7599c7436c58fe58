package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider/drivers"
)

// trustCampaign writes a campaign directory holding c.yaml, one BotSailor
// account with the given extra account lines and a text broadcast, and
// returns the YAML's path.
func trustCampaign(t *testing.T, account, audience, text string) string {
	t.Helper()
	dir := t.TempDir()
	yaml := `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    phone_number_id: "1"
    whatsapp_bot_id: 1
    daily_unique_limit: unlimited
` + account + `
broadcasts:
  - name: b
    account: main
    audience: ` + audience + `
    message: {text: "` + text + `"}
`
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

const (
	inline   = `{recipients: [{phone: "4915112345678"}]}`
	tokenEnv = "    api_token: ${TOKEN}\n"
)

// A campaign file is untrusted input. It may read the environment only in
// an account's secrets and settings, never wacamp's own settings, and never
// into message text, where the value would be stored and sent.
func TestCampaignFileReadsOnlyItsSecretsAndSettings(t *testing.T) {
	t.Parallel()
	const dbURL = "postgres://wacamp:db-s3cr3t-42@db:5432/wacamp"
	env := testEnv(map[string]string{
		"TOKEN": "tok-s3cr3t-0123456789", "DATABASE_URL": dbURL, "REDIS_URL": "redis://:redis-s3cr3t@r:6379",
		"ASYNQMON_PASSWORD": "ui-s3cr3t-0123456789", "WACAMP_WEBHOOK_SECRET": "hook-s3cr3t-0123456789",
		"API_HOST": "127.0.0.1:8080", "BAD_HOST": "evil.example/x?",
	})
	for name, tt := range map[string]struct {
		account, text, want string
	}{
		"TextOfToken":      {tokenEnv, "hi ${TOKEN}", `message.text: ${TOKEN} is not expanded here`},
		"TextOfDatabase":   {tokenEnv, "hi ${DATABASE_URL}", `message.text: environment variable DATABASE_URL is a setting of wacamp's own processes`},
		"TokenIsDatabase":  {"    api_token: ${DATABASE_URL}\n", "hi", `api_token: environment variable DATABASE_URL is a setting of wacamp's own processes`},
		"TokenIsRedis":     {"    api_token: ${REDIS_URL}\n", "hi", `api_token: environment variable REDIS_URL is a setting`},
		"TokenIsUIPass":    {"    api_token: ${ASYNQMON_PASSWORD}\n", "hi", `api_token: environment variable ASYNQMON_PASSWORD is a setting`},
		"SecretIsWacamp":   {tokenEnv + "    webhook_secret: ${WACAMP_WEBHOOK_SECRET}\n", "hi", `webhook_secret: environment variable WACAMP_WEBHOOK_SECRET is a setting`},
		"BaseURLPath":      {tokenEnv + "    base_url: http://127.0.0.1:1/${TOKEN}\n", "hi", `base_url: ${VAR} may stand only for the host (and port) of base_url`},
		"BaseURLQuery":     {tokenEnv + "    base_url: http://127.0.0.1:1/api?k=${TOKEN}\n", "hi", `base_url: ${VAR} may stand only for the host`},
		"BaseURLWhole":     {tokenEnv + "    base_url: ${API_HOST}\n", "hi", `base_url: ${VAR} may stand only for the host`},
		"BaseURLHostOfDB":  {tokenEnv + "    base_url: http://${DATABASE_URL}/api\n", "hi", `base_url: environment variable DATABASE_URL is a setting`},
		"BaseURLHostShape": {tokenEnv + "    base_url: http://${BAD_HOST}/api\n", "hi", `base_url: environment variable BAD_HOST must hold a host name or host:port`},
		"PhoneIDOfToken":   {tokenEnv + "    base_url: http://127.0.0.1:1/api\n    portfolio: ${TOKEN}\n", "hi", `portfolio: ${TOKEN} is not expanded here`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(trustCampaign(t, tt.account, inline, tt.text), env, drivers.Catalog{})
			require.ErrorContains(t, err, tt.want)
			for _, secret := range []string{"s3cr3t", "evil"} {
				require.NotContains(t, err.Error(), secret)
			}
		})
	}

	// The host of base_url may come from the environment.
	b, err := Load(trustCampaign(t, tokenEnv+"    base_url: http://${API_HOST}/api/v1\n", inline, "hi"), env, drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:8080/api/v1", b.Accounts[0].BaseURL)
	require.Equal(t, "env:TOKEN", b.Accounts[0].TokenRef)
}

// A secret file must be a regular file in a secret directory
// (WACAMP_SECRET_DIRS, default /run/secrets): /proc/self/environ would post
// the whole environment to the account's base_url, and validate alone did
// it. Nothing of a refused file reaches the error.
func TestSecretFilesOnlyFromSecretDirectories(t *testing.T) {
	t.Parallel()
	secrets := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "token"), []byte("tok-s3cr3t-0123456789\n"), 0o600))
	elsewhere := t.TempDir()
	outside := filepath.Join(elsewhere, "token")
	require.NoError(t, os.WriteFile(outside, []byte("other-s3cr3t-0123456789\n"), 0o600))
	link := filepath.Join(secrets, "link")
	require.NoError(t, os.Symlink(outside, link))

	only := func(dirs string) func(string) string {
		return testEnv(map[string]string{"WACAMP_SECRET_DIRS": dirs})
	}
	for name, tt := range map[string]struct {
		file, dirs, want string
	}{
		"Environ":         {"/proc/self/environ", secrets, "is outside the directories secret files are read from"},
		"EnvironAllowed":  {"/proc/self/environ", "/proc", "is not a regular file"},
		"DevZeroAllowed":  {"/dev/zero", "/dev", "is not a regular file"},
		"Outside":         {outside, secrets, "is outside the directories secret files are read from (" + secrets + ")"},
		"LinkOutside":     {link, secrets, "is outside the directories secret files are read from"},
		"DefaultRun":      {outside, "", "is outside the directories secret files are read from (/run/secrets)"},
		"EtcAllowedOther": {"/etc/hostname", secrets, "is outside"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(trustCampaign(t, "    api_token_file: "+tt.file+"\n", inline, "hi"), only(tt.dirs), drivers.Catalog{})
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "s3cr3t")
			require.NotContains(t, err.Error(), "PATH=") // of /proc/self/environ
		})
	}
	b, err := Load(trustCampaign(t, "    api_token_file: "+filepath.Join(secrets, "token")+"\n", inline, "hi"), only(elsewhere+":"+secrets), drivers.Catalog{})
	require.NoError(t, err)
	require.Equal(t, "file:"+filepath.Join(secrets, "token"), b.Accounts[0].TokenRef)

	// Workers read the file again at send time: the same refusal, a pipe
	// put in a token's place included (opening it would wait for a writer).
	fifo := filepath.Join(secrets, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	// A shell's <(…) names /dev/fd/N, a link to a pipe with no path: it is
	// refused as special, not reported missing.
	for _, ref := range []string{"file:/proc/self/environ", "file:/dev/zero", "file:" + fifo, "file:/dev/fd/63"} {
		_, err := ResolveToken(ref, testEnv(nil))
		require.ErrorIs(t, err, errSpecialFile)
		require.NotContains(t, err.Error(), "PATH=")
	}
}

// An audience file must be a regular file in the campaign directory (or
// WACAMP_AUDIENCE_DIRS): csv: /etc/passwd, ../elsewhere or a link out of
// the directory are refused, and so are devices and pipes, which would
// never end (/dev/zero grew the process to 23 GB).
func TestAudienceFilesOnlyFromTheCampaignDirectory(t *testing.T) {
	t.Parallel()
	env := testEnv(map[string]string{"TOKEN": "tok-0123456789abcdef"})
	elsewhere := t.TempDir()
	outside := filepath.Join(elsewhere, "people.csv")
	require.NoError(t, os.WriteFile(outside, []byte("phone\n4915112345678\n"), 0o600))

	for name, tt := range map[string]struct{ csv, want string }{
		"Passwd":   {"/etc/passwd", "is outside the campaign directory"},
		"DevZero":  {"/dev/zero", "is outside the campaign directory"},
		"Environ":  {"/proc/self/environ", "is outside the campaign directory"},
		"Absolute": {outside, "is outside the campaign directory"},
		// Whether a path outside exists, or what it is, is not told.
		"Missing":   {filepath.Join(elsewhere, "nothing.csv"), "is outside the campaign directory"},
		"Directory": {elsewhere, "is outside the campaign directory"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(trustCampaign(t, tokenEnv, "{csv: "+tt.csv+"}", "hi"), env, drivers.Catalog{})
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "root:")
		})
	}

	t.Run("DotDot", func(t *testing.T) {
		t.Parallel()
		path := trustCampaign(t, tokenEnv, "{csv: ../people.csv}", "hi")
		require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(path)), "people.csv"), []byte("phone\n4915112345678\n"), 0o600))
		_, err := Load(path, env, drivers.Catalog{})
		require.ErrorContains(t, err, "is outside the campaign directory")
	})
	t.Run("LinkOut", func(t *testing.T) {
		t.Parallel()
		path := trustCampaign(t, tokenEnv, "{csv: people.csv}", "hi")
		require.NoError(t, os.Symlink(outside, filepath.Join(filepath.Dir(path), "people.csv")))
		_, err := Load(path, env, drivers.Catalog{})
		require.ErrorContains(t, err, "is outside the campaign directory")
		// Allowed once its directory is an audience directory.
		b, err := Load(path, testEnv(map[string]string{"TOKEN": "tok-0123456789abcdef", "WACAMP_AUDIENCE_DIRS": "/nonexistent:" + elsewhere}), drivers.Catalog{})
		require.NoError(t, err)
		require.Equal(t, 1, b.Broadcasts[0].RecipientCount())
	})
	t.Run("FIFO", func(t *testing.T) {
		t.Parallel()
		path := trustCampaign(t, tokenEnv, "{csv: people.csv}", "hi")
		require.NoError(t, syscall.Mkfifo(filepath.Join(filepath.Dir(path), "people.csv"), 0o600))
		_, err := Load(path, env, drivers.Catalog{}) // would block forever if opened
		require.ErrorContains(t, err, "is not a regular file")
	})
	t.Run("Subdirectory", func(t *testing.T) {
		t.Parallel()
		path := trustCampaign(t, tokenEnv, "{csv: lists/people.csv}", "hi")
		dir := filepath.Join(filepath.Dir(path), "lists")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "people.csv"), []byte("phone\n4915112345678\n"), 0o600))
		b, err := Load(path, env, drivers.Catalog{})
		require.NoError(t, err)
		require.Equal(t, 1, b.Broadcasts[0].RecipientCount())
	})
}

// Offline, a campaign is checked without its secrets: references are
// checked for their form but not read, so CI for pull requests needs no
// production secret. wacamp's own settings stay refused.
func TestOfflineLoadReadsNoSecret(t *testing.T) {
	t.Parallel()
	offline := LoadOptions{Offline: true}
	path := trustCampaign(t, tokenEnv+"    webhook_secret_file: /run/secrets/wacamp-hook-that-is-not-here\n", inline, "hi")
	var asked []string
	getenv := func(k string) string { asked = append(asked, k); return "" }
	b, err := LoadWith(t.Context(), path, getenv, drivers.Catalog{}, offline)
	require.NoError(t, err)
	require.Equal(t, "env:TOKEN", b.Accounts[0].TokenRef)
	require.Equal(t, "file:/run/secrets/wacamp-hook-that-is-not-here", b.Accounts[0].WebhookSecretRef)
	require.NotContains(t, asked, "TOKEN")

	_, err = LoadWith(t.Context(), path, testEnv(nil), drivers.Catalog{}, LoadOptions{})
	require.ErrorContains(t, err, "environment variable TOKEN is not set")

	for _, account := range []string{"    api_token: ${DATABASE_URL}\n", "    api_token_file: /proc/self/environ\n"} {
		_, err = LoadWith(t.Context(), trustCampaign(t, account, inline, "hi"), testEnv(nil), drivers.Catalog{}, offline)
		require.Error(t, err)
		require.True(t, strings.Contains(err.Error(), "setting of wacamp's own processes") || strings.Contains(err.Error(), "is outside"), err.Error())
	}
}
