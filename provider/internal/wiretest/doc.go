// Package wiretest holds what the drivers' tests share to attack a driver
// as a hostile provider, proxy or redirect target would: a credential full
// of the characters JSON and URLs escape, and a redirect to a server that
// records whatever reaches it.
package wiretest
