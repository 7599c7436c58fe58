// Package botsailor is the driver for the BotSailor API family: BotSailor
// itself and its white-label resellers (Wabotick and others), which serve the
// same paths under /api/v1/ on their own hosts and differ in a few response
// shapes.
//
// Every call is a form-encoded POST with the apiToken in the body, never in
// the URL. Answers are parsed tolerantly: "status" may be "1"/"0", 1/0,
// true/false or "success"/"error"; the wamid may sit in several places;
// "message" may be a string, an object or an array. Failures come back as
// *provider.Error carrying the HTTP status, Meta's error code when the answer
// names one, the provider's text and the policy class of provider.Classify.
//
// A send whose answer is lost (dropped connection, unreadable or non-JSON 2xx
// body, context cancelled after the request was written) is ClassAmbiguous:
// the provider may have accepted it, so reconcile (Conversation) before
// sending again.
package botsailor
