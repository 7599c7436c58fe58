package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/config"
)

// RedisTarget is where REDIS_URL points: one Redis server (a database of
// it) or a Redis Cluster. Every process builds its Redis connections from
// it: asynq's from Asynq, wacamp's own (throttle, webhook records, the data
// marker) from NewClient.
type RedisTarget struct {
	// Asynq is the connection of asynq's clients, servers and inspectors:
	// an asynq.RedisClientOpt, or an asynq.RedisClusterClientOpt for a
	// cluster.
	Asynq asynq.RedisConnOpt
	// Cluster is true for a redis-cluster:// or rediss-cluster:// URL.
	Cluster bool
	// Addrs are the server's host:port, or the cluster nodes listed.
	Addrs []string

	single  *redis.Options
	cluster *redis.ClusterOptions
}

// NewClient returns a new go-redis client on the target: a *redis.Client
// or a *redis.ClusterClient. The caller closes it.
func (r RedisTarget) NewClient() redis.UniversalClient {
	if r.Cluster {
		o := *r.cluster
		return redis.NewClusterClient(&o)
	}
	o := *r.single
	return redis.NewClient(&o)
}

// The URL schemes of REDIS_URL.
const (
	schemeCluster    = "redis-cluster"
	schemeClusterTLS = "rediss-cluster"
)

// ParseRedisURL reads REDIS_URL, the one place that does. The forms are
//
//	redis://[[user]:password@]host[:port][/db][?options]
//	rediss://…                                   (the same over TLS)
//	redis-cluster://[[user]:password@]host:port[,host:port…][?options]
//	rediss-cluster://…                           (the same over TLS)
//
// A cluster URL lists one or more nodes of a Redis Cluster as host:port
// (the client learns the others from them) and names no database: a
// cluster has only database 0. options are go-redis's
// (pool_size, dial_timeout, read_timeout, write_timeout, max_retries, …;
// an unknown one is an error); pool_size, dial_timeout, read_timeout and
// write_timeout also size asynq's connections to a single server. Errors
// show the URL with its password masked.
func ParseRedisURL(s string) (RedisTarget, error) {
	shown := config.RedactURL(s)
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		// Not wrapped: url.Parse's error quotes the URL, password included.
		if strings.HasPrefix(s, schemeCluster+"://") || strings.HasPrefix(s, schemeClusterTLS+"://") {
			return RedisTarget{}, fmt.Errorf("REDIS_URL %s is not a valid URL: write every node as host:port (redis-cluster://10.0.0.1:6379,10.0.0.2:6379)", shown)
		}
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s is not a valid URL (e.g. redis://127.0.0.1:6379/0 or redis-cluster://10.0.0.1:6379,10.0.0.2:6379)", shown)
	}
	switch u.Scheme {
	case "redis", "rediss":
		return parseSingle(s, u, shown)
	case schemeCluster, schemeClusterTLS:
		return parseCluster(u, shown)
	}
	return RedisTarget{}, fmt.Errorf("REDIS_URL %s: the scheme must be redis://, rediss:// (one server) or redis-cluster://, rediss-cluster:// (a Redis Cluster)", shown)
}

func parseSingle(s string, u *url.URL, shown string) (RedisTarget, error) {
	if strings.Contains(u.Host, ",") {
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s lists several hosts: for a Redis Cluster write redis-cluster://host1:port,host2:port", shown)
	}
	o, err := redis.ParseURL(s)
	if err != nil {
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s: %s", shown, redisParseProblem(err))
	}
	return RedisTarget{
		Asynq: asynq.RedisClientOpt{Network: o.Network, Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, PoolSize: o.PoolSize, TLSConfig: o.TLSConfig},
		Addrs:  []string{o.Addr},
		single: o,
	}, nil
}

func parseCluster(u *url.URL, shown string) (RedisTarget, error) {
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s names database %q: a Redis Cluster has only database 0; remove the path", shown, p)
	}
	q := u.Query()
	if q.Has("addr") || q.Has("db") {
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s: list the cluster's nodes as host:port,host:port, not with addr= or db=", shown)
	}
	var addrs []string
	for _, h := range strings.Split(u.Host, ",") {
		if h == "" {
			return RedisTarget{}, fmt.Errorf("REDIS_URL %s: an empty node in the list of hosts", shown)
		}
		host, port, err := net.SplitHostPort(h)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			return RedisTarget{}, fmt.Errorf("REDIS_URL %s: node %q is not host:port: write every node as host:port", shown, h)
		}
		addrs = append(addrs, net.JoinHostPort(host, port))
	}
	// go-redis reads the options (and the first node) from its own form:
	// redis://user:pass@node1?addr=node2&addr=node3&options.
	gu := *u
	gu.Scheme, gu.Host, gu.Path = "redis", addrs[0], ""
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	gu.RawQuery = q.Encode()
	o, err := redis.ParseClusterURL(gu.String())
	if err != nil {
		return RedisTarget{}, fmt.Errorf("REDIS_URL %s: %s", shown, redisParseProblem(err))
	}
	if u.Scheme == schemeClusterTLS {
		// No ServerName: each node's certificate is checked against the
		// name it is dialled by.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return RedisTarget{
		Asynq: asynq.RedisClusterClientOpt{Addrs: o.Addrs, Username: o.Username, Password: o.Password,
			DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout, TLSConfig: o.TLSConfig},
		Cluster: true,
		Addrs:   o.Addrs,
		cluster: o,
	}, nil
}

// redisParseProblem is what go-redis found wrong with a URL, without the
// URL: its errors about the query name the option and its value, but an
// error of url.Parse would quote the whole URL, password included.
func redisParseProblem(err error) string {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return "not a valid URL"
	}
	return strings.TrimPrefix(err.Error(), "redis: ")
}

// checkRedisKind fails when the server's mode does not match the URL: a
// redis:// URL on a node of a Redis Cluster would answer MOVED for most
// keys, and a redis-cluster:// URL on a server without cluster mode cannot
// learn any slots.
func checkRedisKind(ctx context.Context, c redis.UniversalClient, t RedisTarget, shown string) error {
	if t.Cluster {
		return nil // a server without cluster mode fails ClusterClient's first command (see PingRedis)
	}
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		return nil // an embedded or restricted server (miniredis) answers no INFO: not a cluster
	}
	for _, l := range strings.Split(info, "\n") {
		if strings.TrimSpace(l) == "cluster_enabled:1" {
			return fmt.Errorf("REDIS_URL=%s points at a node of a Redis Cluster: list its nodes as redis-cluster://host1:port,host2:port,…", shown)
		}
	}
	return nil
}
