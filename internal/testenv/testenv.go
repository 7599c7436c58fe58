// Package testenv gives tests real, isolated services: a fresh Postgres
// database per test (created and dropped around it) and a Redis database
// index leased for the test's lifetime and flushed before use. asynq keys are
// not prefixable, so tests that run at once (other packages) each need their
// own Redis database.
//
// TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and
// TEST_REDIS_URL (default redis://127.0.0.1:6379) name the servers.
package testenv

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/store"
)

// PostgresURL is the admin URL tests create databases through.
func PostgresURL() string {
	return cmp.Or(os.Getenv("TEST_DATABASE_URL"), "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// RedisURL is the Redis server tests lease databases from.
func RedisURL() string { return cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379") }

// NewDatabase creates an empty Postgres database for the test and returns its
// URL; it is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, PostgresURL())
	if err != nil {
		t.Fatalf("testenv: connect to postgres %s: %v", PostgresURL(), err)
	}
	defer admin.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "wacamp_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, PostgresURL())
		if err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", PostgresURL(), err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewStore opens a migrated store on a fresh database.
func NewStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), NewDatabase(t), nil)
	if err != nil {
		t.Fatalf("testenv: open store: %v", err)
	}
	// Small pools: packages run in parallel against one Postgres that
	// allows 100 connections in all.
	db.SetMaxConns(6)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// Redis is a leased, flushed Redis database.
type Redis struct {
	URL    string // redis://host:port/N
	Opt    asynq.RedisConnOpt
	Client *redis.Client
}

// NewRedis leases a Redis database index (1–15) for the test, flushes it and
// releases it when the test ends. It waits while all are leased.
func NewRedis(t testing.TB) Redis {
	t.Helper()
	base, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", RedisURL(), err)
	}
	base.DB = 0
	ctl := redis.NewClient(base)
	t.Cleanup(func() { _ = ctl.Close() })
	ctx := context.Background()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	owner := hex.EncodeToString(b)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			key := "wacamp:testenv:lease:" + strconv.Itoa(n)
			ok, err := ctl.SetNX(ctx, key, owner, 20*time.Minute).Result()
			if err != nil {
				t.Fatalf("testenv: redis %s: %v", RedisURL(), err)
			}
			if !ok {
				continue
			}
			t.Cleanup(func() {
				if v, _ := ctl.Get(context.Background(), key).Result(); v == owner {
					ctl.Del(context.Background(), key)
				}
			})
			opt := *base
			opt.DB = n
			c := redis.NewClient(&opt)
			t.Cleanup(func() { _ = c.Close() })
			if err := c.FlushDB(ctx).Err(); err != nil {
				t.Fatalf("testenv: flush redis db %d: %v", n, err)
			}
			u := fmt.Sprintf("redis://%s/%d", opt.Addr, n)
			return Redis{URL: u, Opt: asynq.RedisClientOpt{Addr: opt.Addr, DB: n, Password: opt.Password}, Client: c}
		}
		if time.Now().After(deadline) {
			t.Fatal("testenv: no free redis database for 5 minutes")
		}
		time.Sleep(200 * time.Millisecond) // polling a shared lease; no signal exists across processes
	}
}

// ClosedAddr is a loopback address nothing listens on, for pointing a
// client at a service that is down.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("testenv: close listener: %v", err)
	}
	return addr
}
