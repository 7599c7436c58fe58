// Package redisproc runs a private redis-server process on a loopback port,
// kept in memory only (no RDB, no AOF), that can be killed and started again
// empty: a Redis restart without persistence, for tests and the fault
// benchmark (a shared server cannot be restarted under its other users).
// StartCluster runs several such processes as one Redis Cluster.
package redisproc
