// Command scheduler: see `scheduler -h` and README.md.
package main
