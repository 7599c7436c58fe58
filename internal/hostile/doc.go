// Package hostile holds what the fuzz targets of the webhook parsers and
// the webhook receiver share: bodies an attacker (or a broken provider)
// sends, and the properties whatever a parser accepts must keep. The
// drivers' answer targets have their own helpers in
// provider/internal/wiretest.
package hostile
