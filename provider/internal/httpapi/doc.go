// Package httpapi is the client kernel every HTTP provider driver shares:
// one call (build the request → send it, tracing whether it was written →
// read a bounded answer → hand it to the driver's interpreter → log one
// debug record), the classification of what happens before an answer is
// read (a redirect, a transport error, an answer cut short), the builders
// of *provider.Error, and how a configuration is printed without its
// secrets.
//
// A driver keeps only what is its own: its request builders, its answer
// and webhook parsers (the Interpret function it passes to Client.Do) and
// its capability declaration. The rules every driver follows are here:
//
//   - a redirect is never followed: halt-account, or ambiguous for a send
//     answered 303 (wire.Redirected);
//   - a transport error is ambiguous for a send whose request was written,
//     transient otherwise; a cancelled or expired ctx stays in the chain;
//   - an answer that cannot be read is transient when its status says the
//     request was not served (wire.NotServed), else ambiguous for a send;
//   - an answer that is not the provider's JSON is ambiguous under a 2xx
//     (transient for a call that sends nothing), else classified on the
//     HTTP status alone (wire.BareClass for a send);
//   - every text kept from an answer or an error is scrubbed of the
//     driver's secrets, and a URL that holds one never shows.
package httpapi
