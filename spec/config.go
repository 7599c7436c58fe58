package spec

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// Defaults for fields a campaign file may leave out.
const (
	DefaultRatePerSecond = 80             // messages per second per phone number
	MaxRatePerSecond     = 1000           // the highest rate_per_second accepted
	DefaultDeadline      = 24 * time.Hour // from start_at to expiry of unsent deliveries
	// DefaultLocalDeadline is a local-time broadcast's: its zones' local
	// times lie up to a day after its start (26 hours with a date), and
	// the last zone keeps about a day to send in.
	DefaultLocalDeadline = 48 * time.Hour
	// DefaultPairInterval is WhatsApp's pair rate: one message per 6 s to the
	// same recipient from the same number (WHATSAPP.md §3).
	DefaultPairInterval = 6 * time.Second
	// DefaultStormShare and DefaultStormWindow: a broadcast pauses itself
	// when more than this share of its last this-many sends failed.
	DefaultStormShare  = 0.2
	DefaultStormWindow = 200
	// MaxCapMessages, MinCapPer and MaxCapPer bound an account's
	// frequency_cap: 1 to 100 messages per 1s to 744h (31 days). The
	// shortest windows are for trying a cap out (and for tests); Redis
	// keeps about 150 bytes per person messaged within the window.
	MaxCapMessages = 100
	MinCapPer      = time.Second
	MaxCapPer      = 744 * time.Hour
)

// MessagingTiers are WhatsApp's messaging limits (unique recipients per
// rolling 24 h, WHATSAPP.md §2); daily_unique_limit takes one of them, any
// other positive number, or "unlimited".
var MessagingTiers = []int{250, 2000, 10000, 100000}

// Bundle is everything one [Load] read: accounts and broadcasts from all
// files, in file order and then document order.
type Bundle struct {
	Accounts   []Account
	Broadcasts []Broadcast
	Sequences  []Sequence
	Warnings   []string // things worth knowing that are not errors, e.g. dropped duplicates
}

// Pos is where something is defined.
type Pos struct {
	File string // as given or joined to the loaded directory
	Line int    // 1-based
}

// String returns "file:line".
func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Account is a provider account: one WhatsApp phone number at a provider.
type Account struct {
	Name     string // unique across all files
	Provider string // the driver: botsailor, wabotick, sobot, salebot or waapi
	BaseURL  string // API base, without trailing slash, e.g. https://botsailor.com/api/v1
	TokenRef string // where the API token is: "env:VAR" or "file:/path"; see ResolveToken
	// SecretRef is where the second credential is (Sobot's x-api-secret,
	// the session API's Bearer token); "" = none.
	SecretRef string
	// WebhookSecretRef is where the secret of the account's status webhook
	// URL is; "" = the account takes no webhooks.
	WebhookSecretRef string
	SessionID        string  // the session API's session_id
	PhoneNumberID    string  // the provider's phone_number_id (BotSailor family), else any id of the number
	WhatsAppBotID    int64   // the provider's whatsapp_bot_id (BotSailor family, Salebot)
	RatePerSecond    float64 // send rate for this phone number, fleet-wide; default 80
	// PairInterval is the least time between two messages to the same
	// recipient from this number; default 6 s, 0 = not enforced.
	PairInterval time.Duration
	// DailyUniqueLimit is the rolling 24 h unique-recipient budget; 0 =
	// unlimited. Accounts with the same Portfolio share one budget.
	DailyUniqueLimit int
	Portfolio        string
	// Timezone is the IANA zone sequence windows use for recipients whose
	// own zone is not known; "" = UTC.
	Timezone string
	// OnUnknownOutcome is what happens to a send whose outcome is unknown
	// on a provider without a conversation history: OutcomeSettle ("" is
	// the same), OutcomeFail or OutcomeResend. SettleWindow is how long
	// wacamp looks for a trace of such a send (the provider's webhooks or
	// conversation history) before sending it again; 0 = the worker's
	// default (5 min, WACAMP_SETTLE_WINDOW).
	OnUnknownOutcome string
	SettleWindow     time.Duration
	// FrequencyCap caps the messages to one person across every broadcast
	// and sequence of the account's portfolio (else its number); zero:
	// none. Accounts of one portfolio share it.
	FrequencyCap FrequencyCap
	// OptOut are the account's own opt-out and opt-in keywords, besides
	// the defaults (consent.DefaultOptOut, consent.DefaultOptIn), and the
	// confirmations it sends back when it acts on one.
	OptOut consent.Settings
	// ServiceWindow overrides whether the account's channel enforces the
	// 24-hour customer-service window: WindowEnforced, WindowNotEnforced,
	// or "" for its provider's rule (provider.Capabilities.ServiceWindow).
	ServiceWindow string
	Pos           Pos
}

// The choices of an account's customer_service_window (provider's).
const (
	WindowEnforced    = provider.WindowEnforced
	WindowNotEnforced = provider.WindowNotEnforced
)

// EnforcesWindow reports whether the account's free-form messages reach
// only people inside their 24-hour window: its customer_service_window,
// else its provider's rule (provider.Capabilities.EnforcesWindow).
func (a Account) EnforcesWindow(caps provider.Capabilities) bool {
	return caps.EnforcesWindow(a.ServiceWindow)
}

// FrequencyCap is an account's frequency_cap: at most Messages
// business-initiated messages to one person in any moving Per.
type FrequencyCap struct {
	Messages int
	Per      time.Duration
	// Sequences is what a sequence step over the cap does: CapDefer (""
	// is the same: wait for room within its deadline) or CapSkip. A
	// broadcast's delivery over the cap is skipped.
	Sequences string
}

// The choices of frequency_cap.sequences.
const (
	CapDefer = "defer"
	CapSkip  = "skip"
)

// String shows c as frequency_cap is written ("off" for none).
func (c FrequencyCap) String() string {
	if c.Messages == 0 {
		return "off"
	}
	return fmt.Sprintf("%d per %s", c.Messages, ShortDuration(c.Per))
}

// ShortDuration shows d as a campaign file writes it: 168h and 90m rather
// than 168h0m0s and 1h30m0s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Broadcast is one message to an audience.
type Broadcast struct {
	Name     string
	Account  string            // an Account's Name
	StartAt  *time.Time        // nil: as soon as applied
	Deadline time.Duration     // after StartAt (or applying), unsent deliveries expire; default 24h
	Message  templates.Message // unrendered, with placeholders
	// Recipients are the inline recipients (audience.recipients):
	// normalised, deduplicated, in input order. A CSV file's recipients
	// come after them and are not held in memory: see CSV,
	// [Broadcast.EachRecipient] and [Broadcast.RecipientCount].
	Recipients []Recipient
	CSV        *AudienceFile // audience.csv; nil if none
	// Duplicates is how many recipients were dropped as repeats of an
	// earlier number, inline and in the CSV file.
	Duplicates int
	// StormShare and StormWindow: pause when more than StormShare (0–1) of
	// the last StormWindow sends failed; defaults 0.2 and 200.
	StormShare  float64
	StormWindow int
	// Cron makes the broadcast recurring: a robfig/cron standard spec
	// ("0 9 * * MON", "@daily"), read in Timezone (IANA; "" = the account's
	// zone, else UTC). Each occurrence sends to the audience once.
	Cron     string
	Timezone string
	// Timing is when each recipient gets the message in their own time
	// zone: local_time (and date) and window; the zero Timing sends to
	// everyone from the start.
	Timing localtime.Timing
	// Zones counts the audience by time zone when Timing is zoned: IANA
	// name → recipients; "" counts those neither whose "timezone" variable
	// nor whose number tells (the account's zone).
	Zones map[string]int
	Pos   Pos
	// Field is the broadcast's path in its file ("broadcasts[0]") and
	// StartPos where its start is, for messages about them: its start_at,
	// or, for a local-time broadcast with a date and no start_at, its date
	// (StartField says which).
	Field      string
	StartPos   Pos
	StartField string
}

// Recipient is one member of an audience.
type Recipient struct {
	Phone string            `json:"phone"`          // E.164 digits without "+"
	Name  string            `json:"name,omitempty"` // empty: not given
	Vars  map[string]string `json:"vars,omitempty"` // further values for placeholders
}

// RenderVars returns the values placeholders can use for r: "phone", "name"
// (if given) and every key of r.Vars.
func (r Recipient) RenderVars() map[string]string {
	return templates.RecipientVars(r.Phone, r.Name, r.Vars)
}

// nameRE is the form of broadcast and account names.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// LoadOptions change what [LoadWith] does; the zero value is
// [LoadContext]'s behaviour.
type LoadOptions struct {
	// Offline checks a campaign without its secrets: api_token,
	// api_secret and webhook_secret references are checked for their
	// form (a ${VAR} that is not one of wacamp's own settings, a secret
	// file path inside the secret directories) but neither read nor
	// required to be set. This is how campaign files are validated where
	// production secrets must not be, such as CI for pull requests.
	Offline bool
	// Progress, if set, is told how reading a CSV audience file goes: every
	// 16,384 rows of each pass over it and once at the end of each (Done).
	// Load reads each audience file twice; the Bundle keeps the function
	// for [Broadcast.EachRecipient], which reads the file once more (when
	// apply copies it into the database). It is called on the reading
	// goroutine: it must be quick.
	Progress func(Progress)
}

// Progress is how far a pass over a CSV audience file has come.
type Progress struct {
	File  string // as problems name it
	Stage string // StageValidate, StageCheck or StageRead
	Rows  int    // data rows read so far
	Bytes int64  // bytes read so far
	Size  int64  // the file's size when opened
	Done  bool   // the pass has ended
}

// Stages of reading a CSV audience file, for [Progress].
const (
	// StageValidate is Load's first pass: every row checked, every number
	// normalised.
	StageValidate = "checking rows"
	// StageCheck is Load's second pass: repeated numbers dropped, the
	// message rendered and checked for each recipient, the audience hashed.
	StageCheck = "checking messages"
	// StageRead is [Broadcast.EachRecipient]'s pass (apply: copying the
	// recipients into the database).
	StageRead = "reading recipients"
)

// Load reads campaign definitions from path: one file, or every *.yaml and
// *.yml file directly in a directory, in name order. It checks everything
// (see the package documentation) and returns a *[ValidationError] listing
// every problem, each with file, line and field. getenv (os.Getenv in
// production) expands ${VAR} references; providers tells which provider
// values exist and what each driver can send.
func Load(path string, getenv func(string) string, providers Providers) (*Bundle, error) {
	return LoadContext(context.Background(), path, getenv, providers)
}

// LoadContext is [Load] that stops when ctx ends, returning ctx's error
// (wrapped) rather than a *[ValidationError].
func LoadContext(ctx context.Context, path string, getenv func(string) string, providers Providers) (*Bundle, error) {
	return LoadWith(ctx, path, getenv, providers, LoadOptions{})
}

// LoadWith is [LoadContext] with options.
func LoadWith(ctx context.Context, path string, getenv func(string) string, providers Providers, opts LoadOptions) (*Bundle, error) {
	if providers == nil {
		return nil, errors.New("spec: loading " + path + ": no Providers")
	}
	// Only the directories files may be read from are taken from the
	// process settings: the others are not this load's to check.
	settings, _ := config.FromEnv(getenv)
	l := &loader{
		ctx:             ctx,
		opts:            opts,
		root:            campaignRoot(path),
		secretDirList:   settings.SecretDirs,
		audienceDirList: settings.AudienceDirs,
		getenv:          getenv,
		providers:       providers,
		accounts:        make(map[string]Pos),
		broadcasts:      make(map[string]Pos),
		sequences:       make(map[string]Pos),
	}
	files, err := listFiles(path)
	if err != nil {
		l.probs.add(path, 0, "", "%v", err)
	}
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("loading %s: %w", path, err)
		}
		l.loadFile(file)
	}
	if l.stopped != nil {
		return nil, fmt.Errorf("loading %s: %w", path, l.stopped)
	}
	l.checkAccountRefs()
	l.checkCapabilities()
	l.checkContent()
	if l.stopped != nil {
		return nil, fmt.Errorf("loading %s: %w", path, l.stopped)
	}
	l.checkTokenUses()
	l.checkPortfolios()
	l.checkBudgets()
	l.checkDurations()
	l.redactEnv()
	if err := l.probs.err(); err != nil {
		return nil, err
	}
	return &l.bundle, nil
}

// minRedactLen is the shortest expanded value redactEnv hides: shorter
// ones ("1", "en") are no secrets and would turn up everywhere.
const minRedactLen = 8

// redactEnv replaces, in every problem and warning, the value of each
// variable a ${VAR} reference expanded with the reference as written.
// Problems quote what is wrong (a phone number, a path, a name), and a
// value from the environment may be a secret put in the wrong field: it
// must not reach validate's output, which people read who may not see
// the secrets.
func (l *loader) redactEnv() {
	vals := make(map[string]string) // value → ${VAR}
	for _, u := range l.expanded {
		if v := l.getenv(u.name); len(v) >= minRedactLen {
			vals[v] = "${" + u.name + "}"
		}
	}
	if len(vals) == 0 {
		return
	}
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range slices.SortedFunc(maps.Keys(vals), func(a, b string) int { return cmp.Compare(len(b), len(a)) }) {
		pairs = append(pairs, v, vals[v]) // longest first: a value may hold another
	}
	r := strings.NewReplacer(pairs...)
	for i := range l.probs.list {
		p := &l.probs.list[i]
		p.Field, p.Msg = r.Replace(p.Field), r.Replace(p.Msg)
	}
	for i, w := range l.bundle.Warnings {
		l.bundle.Warnings[i] = r.Replace(w)
	}
}

// listFiles returns path if it is a file, or the YAML files in it if it is
// a directory.
func listFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", unwrapPath(err))
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read directory: %w", unwrapPath(err))
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(path, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.yaml or *.yml files in directory")
	}
	return files, nil
}

// campaignRoot returns the campaign directory of path: path itself if it
// is a directory, else its directory.
func campaignRoot(path string) string {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return filepath.Clean(path)
	}
	return filepath.Dir(path)
}

// loader holds the state of one Load.
type loader struct {
	ctx  context.Context
	opts LoadOptions
	root string // the campaign directory: audience files must be in it (or WACAMP_AUDIENCE_DIRS)
	// secretDirList and audienceDirList are WACAMP_SECRET_DIRS and
	// WACAMP_AUDIENCE_DIRS as config reads them.
	secretDirList, audienceDirList []string
	stopped                        error // ctx's error, once noticed
	getenv                         func(string) string
	providers                      Providers
	probs                          problems
	bundle                         Bundle
	accounts                       map[string]Pos // account name → where defined
	broadcasts                     map[string]Pos // broadcast name → where defined
	sequences                      map[string]Pos // sequence name → where defined
	refs                           []accountRef   // broadcasts' account references, checked at the end
	audiences                      []audienceAt   // where bundle.Broadcasts[i]'s message and inline recipients are
	stepMsgs                       [][]msgAt      // where bundle.Sequences[i].Steps[j]'s message is
	expanded                       []envUse       // ${VAR} values put into the Bundle, checked at the end
}

// envUse is a ${VAR} reference that was expanded into a value.
type envUse struct {
	name, file, field string
	line              int
}

// accountRef is a broadcast's account field, checked once all files are read.
type accountRef struct {
	file, field, name string
	line              int
}

// MaxYAMLBytes bounds a campaign file. Its YAML tree takes 50 to 100
// times the file's size in memory while it is checked, so a large
// audience belongs in a CSV file (audience.csv), which is streamed.
const MaxYAMLBytes = 2 << 20

func (l *loader) loadFile(path string) {
	f := &fileCtx{l: l, path: path}
	data, err := readYAML(path)
	if errors.Is(err, errYAMLTooLarge) {
		f.problem(0, "", "is larger than %d MiB, the most a campaign file may be; put large audiences in a CSV file (audience: {csv: people.csv})", MaxYAMLBytes>>20)
		return
	}
	if err != nil {
		f.problem(0, "", "cannot read: %v", err)
		return
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) { // EOF: an empty file
			line, msg := yamlErrorLine(err)
			f.problem(line, "", "invalid YAML: %s", msg)
		}
		return
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		f.problem(next.Line, "", "only one YAML document per file is supported (found a second one)")
		return
	case !errors.Is(err, io.EOF):
		line, msg := yamlErrorLine(err)
		f.problem(line, "", "invalid YAML: %s", msg)
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	if ok, err := f.checkTree(l.ctx, &doc); !ok {
		l.stopped = err
		return
	}
	root, ok := f.object(doc.Content[0], "", "accounts", "broadcasts", "sequences")
	if !ok {
		return
	}
	// Decoding reports problems as it goes; with any, Load returns no Bundle.
	for i, n := range f.list(root["accounts"].val, "accounts") {
		l.bundle.Accounts = append(l.bundle.Accounts, f.account(n, index("accounts", i)))
	}
	for i, n := range f.list(root["broadcasts"].val, "broadcasts") {
		b, at := f.broadcast(n, i)
		l.bundle.Broadcasts = append(l.bundle.Broadcasts, b)
		l.audiences = append(l.audiences, at)
	}
	for i, n := range f.list(root["sequences"].val, "sequences") {
		s, at := f.sequence(n, i)
		l.bundle.Sequences = append(l.bundle.Sequences, s)
		l.stepMsgs = append(l.stepMsgs, at)
	}
}

// readYAML reads a campaign file of at most MaxYAMLBytes.
func readYAML(path string) ([]byte, error) {
	file, err := os.Open(path) // #nosec G304 -- the campaign file or directory the operator named
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, MaxYAMLBytes+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if len(data) > MaxYAMLBytes {
		return nil, errYAMLTooLarge
	}
	return data, nil
}

var errYAMLTooLarge = errors.New("campaign file too large")

// checkAccountRefs reports broadcasts whose account is not defined.
func (l *loader) checkAccountRefs() {
	var names []string
	for name := range l.accounts {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, r := range l.refs {
		if _, ok := l.accounts[r.name]; ok {
			continue
		}
		hint := didYouMean(r.name, names)
		if len(names) == 0 {
			hint = " (no accounts are defined: the files given must define every account they use; through the API, as the operator applied it)"
		}
		l.probs.add(r.file, r.line, r.field, "unknown account %q%s", r.name, hint)
	}
}

// checkPortfolios reports accounts of one portfolio (one shared budget and
// frequency cap) that disagree on its size.
func (l *loader) checkPortfolios() {
	first := map[string]Account{}
	for _, a := range l.bundle.Accounts {
		if a.Portfolio == "" {
			continue
		}
		f, ok := first[a.Portfolio]
		if !ok {
			first[a.Portfolio] = a
			continue
		}
		if f.DailyUniqueLimit != a.DailyUniqueLimit {
			l.probs.add(a.Pos.File, a.Pos.Line, "portfolio",
				"account %q shares portfolio %q with account %q (%s) but sets daily_unique_limit %s; accounts of one portfolio share one budget and must agree",
				a.Name, a.Portfolio, f.Name, f.Pos, limitText(a.DailyUniqueLimit))
		}
		if f.FrequencyCap.Messages != a.FrequencyCap.Messages || f.FrequencyCap.Per != a.FrequencyCap.Per {
			l.probs.add(a.Pos.File, a.Pos.Line, "portfolio",
				"account %q shares portfolio %q with account %q (%s) but sets frequency_cap %s, not %s; accounts of one portfolio share one frequency cap and must agree",
				a.Name, a.Portfolio, f.Name, f.Pos, a.FrequencyCap, f.FrequencyCap)
		}
	}
}

// checkBudgets warns about broadcasts whose audience is larger than their
// account's 24 h unique-recipient budget: the rest can only go out once the
// first recipients leave the window, 24 h later, which a deadline of 24 h
// or less never reaches.
func (l *loader) checkBudgets() {
	limits := map[string]int{}
	for _, a := range l.bundle.Accounts {
		limits[a.Name] = a.DailyUniqueLimit
	}
	for _, b := range l.bundle.Broadcasts {
		lim, n := limits[b.Account], b.RecipientCount()
		if lim <= 0 || n <= lim {
			continue
		}
		msg := fmt.Sprintf("%s: broadcast %s has %d recipients but account %s's daily_unique_limit is %d: the other %d wait for room, at least 24 h after the first sends",
			b.Pos, b.Name, n, b.Account, lim, n-lim)
		if b.Deadline <= 24*time.Hour {
			msg += fmt.Sprintf(", after its deadline (%s): they would expire; set a longer deadline", b.Deadline)
		}
		l.bundle.Warnings = append(l.bundle.Warnings, msg)
	}
}

// limitText shows a daily_unique_limit as it is written.
func limitText(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

// checkTokenUses reports a variable that holds an account's API token and
// is also expanded into another field, from where it would reach the
// database or a message.
func (l *loader) checkTokenUses() {
	tokens := make(map[string]string) // variable → account
	for _, a := range l.bundle.Accounts {
		for _, ref := range []string{a.TokenRef, a.SecretRef, a.WebhookSecretRef} {
			if name, ok := strings.CutPrefix(ref, tokenRefEnv); ok {
				tokens[name] = a.Name
			}
		}
	}
	for _, u := range l.expanded {
		if acct, ok := tokens[u.name]; ok {
			l.probs.add(u.file, u.line, u.field, "environment variable %s holds a secret of account %q (api_token, api_secret or webhook_secret); it may only be used there", u.name, acct)
		}
	}
}

// claimName records the definition of a unique name, reporting a repeat.
func (f *fileCtx) claimName(seen map[string]Pos, kind, name string, n *yaml.Node, field string) {
	n = resolve(n)
	if first, dup := seen[name]; dup {
		f.problem(n.Line, field, "duplicate %s name %q (first defined at %s)", kind, name, first)
		return
	}
	seen[name] = Pos{File: f.path, Line: n.Line}
}

// checkName reports a name that is missing or not of the form nameRE.
func (f *fileCtx) checkName(p pair, field string, line int) (string, bool) {
	fld := subfield(field, "name")
	name, ok := f.str(p.val, fld)
	switch {
	case !ok:
		return "", false
	case name == "":
		f.problem(line, fld, "is required")
		return "", false
	case !nameRE.MatchString(name):
		f.problem(resolve(p.val).Line, fld, "%s: use lower-case letters, digits, '_', '.' and '-', starting with a letter or digit", shown(p.val, name))
		return "", false
	}
	return name, true
}

// yamlErrorLine splits a yaml.v3 error such as "yaml: line 3: did not find
// expected key" into its line (0 if none) and message.
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		_, msg, _ = strings.Cut(msg, ": ")
	}
	return line, msg
}

// unwrapPath drops the path from an *fs.PathError: problems name the file
// already.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
