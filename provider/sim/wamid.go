package sim

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
)

// WAMID makes a wamid shaped like Meta's: prefix and the base64 of lead,
// the recipient phone (its length, then its digits) and a hex id made of
// seq and five random bytes drawn from r (two draws).
func WAMID(prefix string, lead []byte, phone string, seq uint32, r *rand.Rand) string {
	var id [9]byte
	binary.BigEndian.PutUint32(id[:4], seq)
	binary.BigEndian.PutUint32(id[4:8], r.Uint32())
	id[8] = byte(r.Uint32()) // #nosec G115 -- any byte will do
	raw := append([]byte{}, lead...)
	raw = append(raw, byte(len(phone))) // #nosec G115 -- phones have at most 15 digits
	raw = append(raw, phone...)
	raw = append(raw, 0x15, 0x02, 0x00, 0x11, 0x18, 0x12)
	raw = append(raw, strings.ToUpper(hex.EncodeToString(id[:]))...)
	raw = append(raw, 0x00)
	return prefix + base64.StdEncoding.EncodeToString(raw)
}
