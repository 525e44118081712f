package team

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/core"
)

// broadcast runs every member on the message at once (at most MaxParallel
// at a time), then synthesises their answers with the leader, or joins
// them when there is none. Members that pause pause the team one after
// another: each continue resumes one.
func (t *Team) broadcast(ctx context.Context, x *core.Execution, st *state) (*core.Outcome, error) {
	if x.Resume != nil {
		pm := st.Paused
		st.Paused = nil
		child, err := t.resumeMember(ctx, x, st, pm, x.Resume.Pending)
		if err != nil {
			return nil, err
		}
		res, again, err := t.settle(ctx, st, pm.Member, child)
		if err != nil {
			return nil, err
		}
		if again != nil {
			again.Index = pm.Index
			return t.paused(st, again)
		}
		st.Answers[pm.Index] = answer{MemberID: pm.Member.ID, Name: pm.Member.Name, Content: res.content, Done: true}
	} else {
		if err := t.fanOut(ctx, x, st); err != nil {
			return nil, err
		}
	}
	if len(st.Queue) > 0 {
		next := st.Queue[0]
		st.Queue = st.Queue[1:]
		return t.paused(st, &next)
	}
	return t.synthesise(ctx, x, st)
}

// fanOut runs every member once; it fills st.Answers and queues the
// members that paused (in member order).
func (t *Team) fanOut(ctx context.Context, x *core.Execution, st *state) error {
	st.Answers = make([]answer, len(t.cfg.Members))
	paused := make([]*pausedMember, len(t.cfg.Members))
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
		sem   = make(chan struct{}, t.cfg.MaxParallel)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shared := maps.Clone(st.State) // settle writes st.State meanwhile
	for i, m := range t.cfg.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			child, err := t.runMember(ctx, x, shared, m, st.Input)
			mu.Lock()
			defer mu.Unlock()
			var (
				res result
				pm  *pausedMember
			)
			if err == nil {
				res, pm, err = t.settle(ctx, st, m, child)
			}
			if err != nil {
				if first == nil {
					first = err
					cancel() // the team fails: its other members stop
				}
				return
			}
			if pm != nil {
				pm.Index = i
				paused[i] = pm
				return
			}
			st.Answers[i] = answer{MemberID: m.ID, Name: m.Name, Content: res.content, Done: true}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, pm := range paused {
		if pm != nil {
			st.Queue = append(st.Queue, *pm)
		}
	}
	return nil
}

// synthesise is the broadcast's reply: the leader's synthesis of the
// answers, or without a leader the answers joined.
func (t *Team) synthesise(ctx context.Context, x *core.Execution, st *state) (*core.Outcome, error) {
	var b strings.Builder
	for i, a := range st.Answers {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(a.Name + ": " + a.Content)
	}
	joined := b.String()
	if t.cfg.Model == nil {
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: joined, ContentType: "str"}); err != nil {
			return nil, err
		}
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContentCompleted}); err != nil {
			return nil, err
		}
		return t.outcome(st, joined), nil
	}
	now := time.Now().Unix()
	st.Messages = append(st.Messages, core.Message{Role: "system", Content: t.roster(), CreatedAt: now})
	st.Messages = append(st.Messages, x.History...)
	st.RunStart = len(st.Messages)
	st.Messages = append(st.Messages, core.Message{Role: "user", Content: st.Input + "\n\nThe members answered:\n\n" + joined, Media: inputMedia(x), CreatedAt: now})
	resp, err := t.ask(ctx, x, st, nil)
	if err != nil {
		return nil, err
	}
	st.Messages = append(st.Messages, core.Message{Role: "assistant", Content: resp.Content, CreatedAt: time.Now().Unix()})
	if err := x.Emit(ctx, core.Event{Event: core.EventRunContentCompleted}); err != nil {
		return nil, err
	}
	return t.outcome(st, resp.Content), nil
}
