// Package spec reads wacamp's campaign files ([Load]): provider accounts,
// broadcasts and sequences, in YAML kept in git, into a [Bundle], or every
// problem at once with its file and line. (The processes' own settings are
// package config's.)
//
// # Campaign files
//
// [Load] takes one file, or a directory whose *.yaml and *.yml files it
// reads in name order (not recursively). Names are unique across all of
// them, and a broadcast may use an account defined in another file.
//
//	accounts:
//	  - name: main
//	    provider: botsailor            # botsailor (alias wabotick), sobot, salebot or waapi
//	    base_url: https://botsailor.com/api/v1   # default per provider
//	    api_token: ${BOTSAILOR_API_TOKEN}        # or api_token_file: /run/secrets/x
//	    phone_number_id: "119060000040020"
//	    whatsapp_bot_id: 123
//	    rate_per_second: 80            # per phone number, fleet-wide; 0 < rate <= 1000
//	broadcasts:
//	  - name: black-friday             # [a-z0-9][a-z0-9_.-]*
//	    account: main
//	    start_at: 2027-11-26T09:00:00+01:00   # RFC 3339; omitted: as soon as applied
//	    deadline: 24h                  # after start_at, unsent deliveries expire
//	    audience:
//	      recipients:
//	        - {phone: "4915112345678", name: "Ann", vars: {code: "BF10"}}
//	      csv: customers.csv           # relative to this file, inside the campaign directory
//	    message:                       # exactly one of text, media, template, bot_flow, location, buttons, list
//	      text: "Hi {{name}}, your code is {{code}}"
//	      # media: {url: https://example.com/a.jpg, type: image, caption: "..."}
//	      # template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}
//	      # bot_flow: "FLOW-UNIQUE-ID"
//	      # location, buttons, list: see spec/message.go
//
// Load knows the providers only through the [Providers] it is given
// (provider/drivers.Catalog in the commands): spec does not import the
// drivers, so what imports spec does not link their HTTP clients. A
// message the account's provider cannot send (its driver's declared
// capabilities) is refused at load, naming the broadcast or sequence step
// and why; so is content the driver's doc refuses ([Providers].ContentCheck:
// Sobot's MIME types, button indexes, list section titles), checked on
// each broadcast recipient's rendered message, and a recipient without a
// name where the provider requires one
// (provider.Capabilities.RecipientName). People to enroll in a sequence
// are checked against every step with [CheckPeople].
//
// Load does not read the clock: [Bundle.CheckStarts] refuses a start_at
// whose deadline has already passed. Load warns (Bundle.Warnings) about an
// audience that takes longer than its deadline at the account's rate.
//
// YAML anchors, aliases and merge keys (<<) work as usual.
//
// # Trust
//
// A campaign file is untrusted input: it is reviewed in pull requests and
// validated in CI by people who must not be able to read the secrets of the
// machines that apply it. So a campaign file may read the environment only
// through ${VAR} in an account's secrets (api_token, api_secret,
// webhook_secret, and the paths of their *_file forms) and settings (the
// host and port of base_url, phone_number_id, whatsapp_bot_id, session_id);
// a ${VAR} anywhere else — message text, names, paths of audiences — is an
// error, not expanded and not left as text. Variables that configure
// wacamp's own processes (DATABASE_URL, REDIS_URL, ASYNQMON_*, WACAMP_*)
// are refused everywhere. Secret files must be regular files in a
// directory of WACAMP_SECRET_DIRS (default config.DefaultSecretDirs), audience
// CSV files regular files in the campaign directory (the directory loaded,
// or the loaded file's) or in WACAMP_AUDIENCE_DIRS; symbolic links are
// followed before the check, and /proc, /sys, /dev, devices and pipes are
// never read. [LoadOptions].Offline checks a campaign without reading any
// secret.
//
// # Secrets
//
// api_token (and api_secret, webhook_secret) must be exactly one ${VAR}
// reference, or api_token_file (api_secret_file, webhook_secret_file) an
// absolute path (workers on other machines read the same path); a literal
// token is refused so that it never reaches git or the database. The token
// itself is not kept: [Account].TokenRef is "env:VAR" or "file:/path", and
// whoever calls the provider reads it with [ResolveToken]. Load checks that
// the variable is set or the file readable and non-empty, and refuses a
// token variable expanded into any other field (a setting, say), from where
// it would reach the database. No error or String method prints a token,
// and a problem quoting a value from the environment (a base URL, a file's
// path) shows the ${VAR} reference as written instead.
//
// # Audiences
//
// Inline recipients come first, then the CSV file's rows. A CSV file has a
// header row with a "phone" column (any case), an optional "name" column,
// and any other columns, which become variables named by their header.
// Phone numbers are normalised (see internal/phone). A number seen before in
// the same broadcast is dropped (the first stays), counted in
// [Broadcast].Duplicates and in a warning; it is not an error.
//
// A CSV file is never held in memory, so memory does not grow with the
// audience (10 million rows: about 120 MiB at the peak). [Load] reads it
// twice: first every row is checked (its number normalised, text the
// database cannot store refused) and each number packed into a set of
// about 4 bytes; then, the set sorted, repeats are dropped, the message is
// rendered and checked for each recipient, and the audience is hashed as
// it goes. [Broadcast] keeps the inline recipients and an [AudienceFile]
// (path, counts, which rows are repeats, the hash);
// [Broadcast.EachRecipient] reads the file once more for whoever needs the
// recipients (apply streams them into the database) and fails with
// [ErrAudienceChanged] if it no longer holds what Load read. [LoadPeople]
// reads people files for sequences the same way. [LoadOptions].Progress
// follows each pass.
//
// A CSV file (see Trust for where it may be) is read within limits that
// stop a broken or hostile file at once, with its line: a row of at most [MaxCSVRowBytes] (64 KiB, line
// breaks inside quotes included: a quote never closed ends there), a cell
// of at most [MaxCSVCellChars] characters (the longest WhatsApp text) and
// at most [MaxCSVColumns] columns. A campaign file is at most
// [MaxYAMLBytes] (2 MiB): its YAML tree takes 50 to 100 times that in
// memory, so large audiences belong in a CSV file.
//
// A placeholder {{x}} in the message takes its value for each recipient
// from "phone", "name" (if given) and the recipient's vars or extra CSV
// columns; see [Recipient.RenderVars]. An empty CSV cell, or a var set to
// null, means "no value": a placeholder that needs it is an error, not an
// empty string. An inline var set to "" is an empty value. Each message is
// also rendered for every recipient and checked again, so a value that
// makes the text too long or breaks the media URL is reported before
// anything is sent.
//
// Template variables are listed as a mapping whose keys become
// templateVariable-<name>-<index> in document order; see
// templates.TemplateVarFromKey for the "name-3" form with an explicit index.
//
// # Errors
//
// Load reports every problem at once in a *[ValidationError], one
// [Problem] per line as "file:line: field: message", for instance
//
//	campaigns/bf.yaml:14: broadcasts[0].audience.recipients[2].phone: "12" has 2 digits; a phone number needs 8–15 digits with country code
//	campaigns/customers.csv:7: broadcasts[0] (black-friday).audience.csv row 7 phone: "0151 2" has no country code ...
//	campaigns/bf.yaml:9: broadcasts[1].account: unknown account "mian" (did you mean "main"?)
//
// A file's problems are capped at 50, followed by an "and N more problems"
// line.
package spec
