package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLimiterBurstThenDeny(t *testing.T) {
	l := NewLimiter(LimiterConfig{RPS: 2, Burst: 3})
	clock := newClock()
	l.now = clock.Now
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, retry := l.Allow("alice")
	if ok || retry <= 0 || retry > 500*time.Millisecond {
		t.Fatalf("after the burst: ok=%v retryAfter=%v", ok, retry)
	}
	if RetryAfterSeconds(retry) != 1 {
		t.Fatalf("RetryAfterSeconds(%v) = %d", retry, RetryAfterSeconds(retry))
	}
	// a refused request does not consume a token
	clock.Add(retry)
	if ok, _ := l.Allow("alice"); !ok {
		t.Fatal("refill refused")
	}
	if ok, _ := l.Allow("alice"); ok {
		t.Fatal("second request after one refill allowed")
	}
	// other principals are independent
	for i := range 3 {
		if ok, _ := l.Allow("bob"); !ok {
			t.Fatalf("bob's request %d refused", i)
		}
	}
	clock.Add(10 * time.Second)
	for i := range 3 {
		if ok, _ := l.Allow("alice"); !ok {
			t.Fatalf("alice after refill, request %d refused", i)
		}
	}
}

func TestLimiterEviction(t *testing.T) {
	l := NewLimiter(LimiterConfig{RPS: 1, Burst: 1, IdleTTL: time.Minute, MaxKeys: 100})
	clock := newClock()
	l.now = clock.Now
	for i := range 50 {
		l.Allow(fmt.Sprint("idle-", i))
	}
	if l.Len() != 50 {
		t.Fatalf("Len %d", l.Len())
	}
	clock.Add(2 * time.Minute)
	l.Allow("fresh")
	if l.Len() != 1 {
		t.Fatalf("idle buckets kept: %d", l.Len())
	}
	// bounded even when every key is active
	for i := range 1000 {
		l.Allow(fmt.Sprint("busy-", i))
		if l.Len() > 100 {
			t.Fatalf("Len %d over MaxKeys", l.Len())
		}
	}
	// the idle TTL never undercuts the refill time
	slow := NewLimiter(LimiterConfig{RPS: 0.001, Burst: 5, IdleTTL: time.Second})
	if slow.cfg.IdleTTL < 5000*time.Second {
		t.Fatalf("IdleTTL %v shorter than the refill", slow.cfg.IdleTTL)
	}
}

func TestLimiterDisabledAndDefaults(t *testing.T) {
	var l *Limiter = NewLimiter(LimiterConfig{})
	if l != nil {
		t.Fatal("RPS 0 should give no limiter")
	}
	for range 1000 {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("nil limiter refused")
		}
	}
	if l.Len() != 0 {
		t.Fatal("nil Len")
	}
	d := NewLimiter(LimiterConfig{RPS: 2.5})
	if d.cfg.Burst != 3 {
		t.Fatalf("default burst %d", d.cfg.Burst)
	}
	if RetryAfterSeconds(0) != 1 || RetryAfterSeconds(2100*time.Millisecond) != 3 {
		t.Fatal("RetryAfterSeconds")
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewLimiter(LimiterConfig{RPS: 1, Burst: 10})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed < 10 || allowed > 12 { // burst, plus what refills during the test
		t.Fatalf("%d allowed from a burst of 10", allowed)
	}
}
