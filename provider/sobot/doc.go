// Package sobot is the driver of Sobot's API (api.sobot.in): JSON bodies
// authenticated by the x-api-key and x-api-secret headers, every message
// kind on POST /message/, answers {"data":{"id":wamid,"status":…},
// "message":…, "code":…}. Statuses arrive only by webhook (Meta-style
// payloads, see ParseWebhook).
package sobot
