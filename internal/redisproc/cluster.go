package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is how many hash slots a Redis Cluster has.
const clusterSlots = 16384

// clusterTimeout bounds how long a new cluster may take to agree on its
// slots.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of private redis-server processes on loopback
// ports: masters only (no replicas), the hash slots split evenly between
// them, kept in memory only.
type Cluster struct {
	// Addrs are the masters' host:port on 127.0.0.1.
	Addrs   []string
	servers []*Server
}

// StartCluster starts masters redis-server processes in cluster mode (their
// node files in dir), joins them into one cluster with the hash slots split
// evenly, and returns once every node reports cluster_state:ok and knows
// every other: what `redis-cli --cluster create … --cluster-replicas 0`
// does, without redis-cli.
func StartCluster(ctx context.Context, dir string, masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, fmt.Errorf("redisproc: a cluster needs at least one master, not %d", masters)
	}
	c := &Cluster{}
	for i := range masters {
		s, err := start(ctx, dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+strconv.Itoa(i)+".conf")
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.servers = append(c.servers, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	if err := c.form(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// form joins the started nodes into one cluster and waits until it is up.
func (c *Cluster) form(ctx context.Context) error {
	clients := make([]*redis.Client, len(c.servers))
	for i, s := range c.servers {
		clients[i] = redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	}
	defer func() {
		for _, cl := range clients {
			_ = cl.Close()
		}
	}()
	n := len(clients)
	for i, cl := range clients {
		// Distinct config epochs before the nodes meet, as redis-cli does,
		// so no epoch collision has to be resolved.
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("redisproc: cluster node %s: set config epoch: %w", c.Addrs[i], err)
		}
		first, last := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		if err := cl.ClusterAddSlotsRange(ctx, first, last).Err(); err != nil {
			return fmt.Errorf("redisproc: cluster node %s: add slots %d-%d: %w", c.Addrs[i], first, last, err)
		}
	}
	for i := 1; i < n; i++ {
		host, port, err := net.SplitHostPort(c.Addrs[i])
		if err != nil {
			return fmt.Errorf("redisproc: %w", err)
		}
		if err := clients[0].ClusterMeet(ctx, host, port).Err(); err != nil {
			return fmt.Errorf("redisproc: cluster node %s: meet %s: %w", c.Addrs[0], c.Addrs[i], err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	want := []string{"cluster_state:ok", "cluster_known_nodes:" + strconv.Itoa(n), "cluster_slots_assigned:" + strconv.Itoa(clusterSlots)}
	for i, cl := range clients {
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && hasLines(info, want) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("redisproc: cluster node %s did not come up (%q): %w", c.Addrs[i], info, errors.Join(err, ctx.Err()))
			case <-time.After(20 * time.Millisecond): // the gossip between nodes sends no signal
			}
		}
	}
	return nil
}

// hasLines reports whether every line of want is a line of info.
func hasLines(info string, want []string) bool {
	lines := strings.Split(strings.ReplaceAll(info, "\r", ""), "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			return false
		}
	}
	return true
}

// Stop kills every node (SIGKILL: nothing is saved) and waits for them to
// exit. It is safe to call more than once.
func (c *Cluster) Stop() {
	for _, s := range c.servers {
		s.Stop()
	}
}

// String names the cluster for messages.
func (c *Cluster) String() string { return "Redis Cluster on " + strings.Join(c.Addrs, ",") }
