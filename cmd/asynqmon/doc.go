// Command asynqmon: see `asynqmon -h` and README.md.
package main
