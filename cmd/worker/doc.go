// Command worker: see `worker -h` and README.md.
package main
