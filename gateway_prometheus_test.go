package agentgate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/redislog"
)

// optionalLogInterfaces says which of core's optional event log
// interfaces log implements.
func optionalLogInterfaces(log core.EventLog) map[string]bool {
	_, fa := log.(core.FinishingAppender)
	_, ba := log.(core.BatchAppender)
	_, cn := log.(core.CancelNotifier)
	_, pl := log.(core.ProcessLocal)
	_, fr := log.(core.FollowerRegistry)
	return map[string]bool{"FinishingAppender": fa, "BatchAppender": ba, "CancelNotifier": cn, "ProcessLocal": pl, "FollowerRegistry": fr}
}

// TestInstrumentedLogsKeepTheirInterfaces: the metrics wrapper keeps
// exactly the optional interfaces of the real backends, Redis (which must be
// reachable: TEST_REDIS_URL, default local) and memory. The engine
// type-asserts them: a lost BatchAppender made every held event of a
// blocking run on Redis a round trip of its own (issue #20).
func TestInstrumentedLogsKeepTheirInterfaces(t *testing.T) {
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = redislog.DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	rl, err := redislog.New(ctx, redislog.Config{URL: url, Prefix: "agentgate-test:" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Fatalf("redislog.New(%s): %v", url, err)
	}
	defer rl.Close()
	for name, log := range map[string]core.EventLog{"redislog": rl, "memlog": memlog.New(core.EventLogConfig{})} {
		want := optionalLogInterfaces(log)
		wrapped := instrumentLog(log, prom.New())
		got := optionalLogInterfaces(wrapped)
		// The wrapper always answers CancelNotifier and ProcessLocal (as
		// the engine would without them); the others it must keep exactly.
		want["CancelNotifier"] = true
		want["ProcessLocal"] = true
		for iface, has := range want {
			if got[iface] != has {
				t.Errorf("%s: %s is %v on the log and %v once instrumented", name, iface, has, got[iface])
			}
		}
		pl, ok := log.(core.ProcessLocal)
		if local := ok && pl.ProcessLocal(); wrapped.(core.ProcessLocal).ProcessLocal() != local {
			t.Errorf("%s: ProcessLocal is %v on the log and not once instrumented", name, local)
		}
	}
}
