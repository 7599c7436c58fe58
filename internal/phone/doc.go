// Package phone normalises phone numbers to the form WhatsApp providers take:
// E.164 digits with country code and without the leading "+".
package phone
