package throttle_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/throttle"
)

// A 130429 ("the number is over its throughput") halves the number's rate
// for the whole fleet, once per burst of such answers, and the rate then
// recovers step by step. This runs against the Redis the tests use
// (TEST_REDIS_URL, default redis://127.0.0.1:6379), on a key of its own.
func ExampleFleet_Penalize() {
	opt, err := redis.ParseURL(cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379"))
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()

	clock := time.Now()
	fleet := throttle.NewFleet(rdb)
	fleet.Now = func() time.Time { return clock }
	number := "example-number-" + strconv.FormatInt(clock.UnixNano(), 36)

	p, _ := fleet.Penalize(ctx, number)
	fmt.Printf("first 130429:  halved=%v, rate x%.2f\n", p.Halved, p.Factor)
	p, _ = fleet.Penalize(ctx, number) // the same burst: answers to earlier requests
	fmt.Printf("same burst:    halved=%v, rate x%.2f\n", p.Halved, p.Factor)
	clock = clock.Add(6 * time.Second) // recovered two steps of 0.1 (every 3 s) to 0.7, then halved
	p, _ = fleet.Penalize(ctx, number)
	fmt.Printf("6 s later:     halved=%v, rate x%.2f\n", p.Halved, p.Factor)
	// Output:
	// first 130429:  halved=true, rate x0.50
	// same burst:    halved=false, rate x0.50
	// 6 s later:     halved=true, rate x0.35
}

// Each key (a phone number's id) has its own pace; a wait that the
// context ends first is an error, never a send.
func ExampleLocal() {
	l := throttle.NewLocal()
	ctx := context.Background()
	for _, number := range []string{"number-a", "number-b"} {
		fmt.Println(number, l.Wait(ctx, number, 80)) // each key's first token is free
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	fmt.Println(l.Wait(ended, "number-a", 0.001) != nil)
	// Output:
	// number-a <nil>
	// number-b <nil>
	// true
}
