package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil"
)

// fakeApprovals is an in-memory ApprovalService that, like the engine,
// tells its observer after each resolution is stored.
type fakeApprovals struct {
	mu       sync.Mutex
	byID     map[string]*core.Approval
	observer core.ApprovalObserver
}

func newFakeApprovals() *fakeApprovals { return &fakeApprovals{byID: map[string]*core.Approval{}} }

func (f *fakeApprovals) add(a *core.Approval) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *a
	f.byID[a.ID] = &cp
}

func (f *fakeApprovals) get(id string) core.Approval {
	f.mu.Lock()
	defer f.mu.Unlock()
	cp := *f.byID[id]
	cp.Context = maps.Clone(cp.Context)
	return cp
}

func (f *fakeApprovals) GetApproval(_ context.Context, id string) (*core.Approval, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.byID[id]
	if !ok {
		return nil, core.Errorf(core.CodeNotFound, "approval %s not found", id)
	}
	cp := *a
	cp.Context = maps.Clone(a.Context)
	return &cp, nil
}

func (f *fakeApprovals) ResolveApproval(ctx context.Context, p core.ResolveApprovalParams) (*core.Approval, error) {
	f.mu.Lock()
	a, ok := f.byID[p.ID]
	if !ok {
		f.mu.Unlock()
		return nil, core.Errorf(core.CodeNotFound, "approval %s not found", p.ID)
	}
	if a.Status != core.ApprovalPending {
		f.mu.Unlock()
		return nil, core.Errorf(core.CodeConflict, "approval %s is %s, not pending", p.ID, a.Status)
	}
	a.Status, a.ResolvedBy, a.ResolutionData = p.Status, p.ResolvedBy, p.ResolutionData
	at := p.ResolvedAt
	a.ResolvedAt = &at
	cp := *a
	cp.Context = maps.Clone(a.Context)
	obs := f.observer
	f.mu.Unlock()
	if obs != nil {
		obs.ApprovalResolved(ctx, &cp)
	}
	return &cp, nil
}

func (f *fakeApprovals) AnnotateApproval(_ context.Context, id string, kv map[string]any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.byID[id]
	if !ok {
		return core.Errorf(core.CodeNotFound, "approval %s not found", id)
	}
	if a.Context == nil {
		a.Context = map[string]any{}
	}
	maps.Copy(a.Context, kv)
	return nil
}

const approvalsChannelID = "CAPPROVALS"

// channelHarness is the harness with the app's approvals channel on: U-ALICE
// approves as "alice@example.com"; nobody else may.
func channelHarness(t *testing.T) (*harness, *fakeApprovals) {
	t.Helper()
	svc := newFakeApprovals()
	hs := newHarness(t, "approver", func(c *Config) {
		c.Apps[0].Approvals = ApprovalsChannel{Channel: approvalsChannelID, Approvers: map[string]string{"UALICE": "alice@example.com"}}
		c.ApprovalService = svc
	})
	if !hs.h.HasApprovalsChannel() {
		t.Fatal("the approvals channel is configured but off")
	}
	svc.observer = hs.h
	return hs, svc
}

func pendingApproval(id string) *core.Approval {
	exp := time.Now().Add(time.Hour).Unix()
	return &core.Approval{ID: id, RunID: "run-" + id, SessionID: "s1", Status: core.ApprovalPending, SourceType: core.KindAgent,
		ApprovalType: core.ApprovalRequired, PauseType: core.PauseConfirmation, ToolName: "delete_repo",
		ToolArgs: json.RawMessage(`{"name":"prod"}`), AgentID: "approver", UserID: "bob", ExpiresAt: &exp, CreatedAt: time.Now().Unix()}
}

// waitPosted waits for the approval's message in the approvals channel,
// with its buttons, and for its place to be noted in the approval.
func waitPosted(t *testing.T, hs *harness, svc *fakeApprovals, id string) fakeslack.Message {
	t.Helper()
	// Polled: the context note comes after the fake's last call.
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range hs.fake.Messages(approvalsChannelID, "") {
			if strings.Contains(m.Blocks, `"value":"`+id+`"`) && svc.get(id).Context[ContextSlackTS] == m.TS {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("approval %s: no message with buttons noted in its context; messages %s; context %v",
				id, dump(hs.fake.Messages(approvalsChannelID, "")), svc.get(id).Context)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A pending approval of the app's agent is posted to the approvals
// channel with the tool, its arguments, the run, the user and the expiry,
// and Approve / Reject buttons whose value is the approval id; where it
// is posted is noted in the approval's context. One of another runnable
// is not posted.
func TestApprovalsChannelPostsWithButtons(t *testing.T) {
	hs, svc := channelHarness(t)
	other := pendingApproval("ap-other")
	other.AgentID = "echo"
	svc.add(other)
	hs.h.ApprovalCreated(context.Background(), other)
	ap := pendingApproval("ap-1")
	svc.add(ap)
	hs.h.ApprovalCreated(context.Background(), ap)
	msg := waitPosted(t, hs, svc, "ap-1")
	for _, want := range []string{"delete_repo", `{\"name\":\"prod\"}`, "run-ap-1", "bob", "expires", ActionApprovalApprove, ActionApprovalReject} {
		if !strings.Contains(msg.Blocks, want) {
			t.Errorf("the message should show %s: %s", want, msg.Blocks)
		}
	}
	if msg.ThreadTS != "" || msg.Channel != approvalsChannelID {
		t.Errorf("posted at %s/%s, want a top-level message in %s", msg.Channel, msg.ThreadTS, approvalsChannelID)
	}
	if c := svc.get("ap-1").Context; c[ContextSlackChannel] != approvalsChannelID || c[ContextSlackApp] != "main" {
		t.Errorf("context %v", c)
	}
	if n := len(hs.fake.Messages(approvalsChannelID, "")); n != 1 {
		t.Errorf("%d messages in the channel, want 1 (the echo agent's approval belongs to no app here)", n)
	}
	// Observers must return at once: a burst is queued, not posted inline.
	start := time.Now()
	for i := range 50 {
		hs.h.ApprovalCreated(context.Background(), &core.Approval{ID: "burst", AgentID: "nobody", Status: core.ApprovalPending, CreatedAt: int64(i)})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("50 observer calls took %v", d)
	}
}

// A click by an approver resolves the approval as the identity they map
// to and edits the message (who and how, no buttons); a second click is
// told it was already decided.
func TestApprovalsChannelAllowedClick(t *testing.T) {
	for _, approve := range []bool{true, false} {
		name, action, status, word := "approve", ActionApprovalApprove, core.ApprovalApproved, "Approved"
		if !approve {
			name, action, status, word = "reject", ActionApprovalReject, core.ApprovalRejected, "Rejected"
		}
		t.Run(name, func(t *testing.T) {
			hs, svc := channelHarness(t)
			ap := pendingApproval("ap-" + name)
			svc.add(ap)
			hs.h.ApprovalCreated(context.Background(), ap)
			msg := waitPosted(t, hs, svc, ap.ID)
			hs.click(msg, action, "UALICE")
			hs.drain()
			got := svc.get(ap.ID)
			if got.Status != status || got.ResolvedBy != "alice@example.com" {
				t.Fatalf("approval is %s by %q, want %s by alice@example.com", got.Status, got.ResolvedBy, status)
			}
			var edited fakeslack.Message
			if !hs.fake.Wait(10*time.Second, func() bool {
				ms := hs.fake.Messages(approvalsChannelID, "")
				edited = ms[0]
				return len(ms) == 1 && ms[0].Edits >= 1
			}) {
				t.Fatalf("the message was not edited: %s", dump(hs.fake.Messages(approvalsChannelID, "")))
			}
			if strings.Contains(edited.Blocks, ActionApprovalApprove) || !strings.Contains(edited.Blocks, word+"* by alice@example.com") {
				t.Fatalf("the message should say who decided and how, without buttons: %s", edited.Blocks)
			}
			time.Sleep(200 * time.Millisecond) // the observer's call must not edit it again
			if ms := hs.fake.Messages(approvalsChannelID, ""); ms[0].Edits != 1 {
				t.Errorf("edited %d times, want once (by the click)", ms[0].Edits)
			}
			hs.click(msg, action, "UALICE")
			hs.drain()
			eph := hs.fake.Calls("chat.postEphemeral")
			if len(eph) != 1 || eph[0].Values.Get("user") != "UALICE" || !strings.Contains(eph[0].Values.Get("text"), "already "+string(status)) {
				t.Errorf("a second click should be told it was already decided: %+v", eph)
			}
		})
	}
}

// A click by a Slack user not in the approvers map is refused with an
// ephemeral message; the approval stays pending and the buttons stay. A
// click on another app's channel is not this app's to decide.
func TestApprovalsChannelRefusedClick(t *testing.T) {
	hs, svc := channelHarness(t)
	ap := pendingApproval("ap-refused")
	svc.add(ap)
	hs.h.ApprovalCreated(context.Background(), ap)
	msg := waitPosted(t, hs, svc, ap.ID)
	hs.click(msg, ActionApprovalApprove, "UMALLORY")
	hs.drain()
	if got := svc.get(ap.ID); got.Status != core.ApprovalPending || got.ResolvedBy != "" {
		t.Fatalf("a refused click resolved it: %s by %q", got.Status, got.ResolvedBy)
	}
	eph := hs.fake.Calls("chat.postEphemeral")
	if len(eph) != 1 || eph[0].Values.Get("user") != "UMALLORY" || eph[0].Values.Get("channel") != approvalsChannelID ||
		!strings.Contains(eph[0].Values.Get("text"), "not an approver") {
		t.Fatalf("the refused user should get an ephemeral refusal: %+v", eph)
	}
	if ms := hs.fake.Messages(approvalsChannelID, ""); ms[0].Edits != 0 || !strings.Contains(ms[0].Blocks, ActionApprovalApprove) {
		t.Fatalf("the message changed on a refused click: %s", dump(ms))
	}
	// The same buttons clicked in a channel that is not the app's
	// approvals channel decide nothing.
	elsewhere := msg
	elsewhere.Channel = "COTHER"
	hs.click(elsewhere, ActionApprovalApprove, "UALICE")
	hs.drain()
	if got := svc.get(ap.ID); got.Status != core.ApprovalPending {
		t.Fatalf("a click outside the approvals channel resolved it")
	}
}

// An approval resolved elsewhere (REST, expiry) has its message edited
// from the place noted in its context, on a replica that did not post it
// too.
func TestApprovalsChannelResolvedElsewhere(t *testing.T) {
	hs, svc := channelHarness(t)
	ap := pendingApproval("ap-rest")
	svc.add(ap)
	hs.h.ApprovalCreated(context.Background(), ap)
	waitPosted(t, hs, svc, ap.ID)
	if _, err := svc.ResolveApproval(context.Background(), core.ResolveApprovalParams{ID: ap.ID, Status: core.ApprovalRejected,
		ResolvedBy: "carol", ResolvedAt: time.Now().Unix()}); err != nil {
		t.Fatal(err)
	}
	if !hs.fake.Wait(10*time.Second, func() bool {
		ms := hs.fake.Messages(approvalsChannelID, "")
		return len(ms) == 1 && ms[0].Edits == 1 && strings.Contains(ms[0].Blocks, "Rejected* by carol")
	}) {
		t.Fatalf("the message was not edited to the REST decision: %s", dump(hs.fake.Messages(approvalsChannelID, "")))
	}
	if strings.Contains(hs.fake.Messages(approvalsChannelID, "")[0].Blocks, ActionApprovalReject) {
		t.Fatal("the buttons stayed")
	}

	// Another replica (a second handler on the same fake Slack and
	// store), which never posted it, edits it from the context alone.
	hs2, _ := channelHarness(t)
	hs2.h.ac.svc = svc
	ap2 := pendingApproval("ap-expired")
	svc.add(ap2)
	hs.h.ApprovalCreated(context.Background(), ap2)
	waitPosted(t, hs, svc, ap2.ID)
	resolved := svc.get(ap2.ID)
	resolved.Status = core.ApprovalExpired
	// The second replica's fake Slack is another server: point its app
	// at the first one's.
	hs2.h.apps[0].api = hs.h.apps[0].api
	hs2.h.ApprovalResolved(context.Background(), &resolved)
	if !hs.fake.Wait(10*time.Second, func() bool {
		for _, m := range hs.fake.Messages(approvalsChannelID, "") {
			if m.TS == resolved.Context[ContextSlackTS] {
				return m.Edits == 1 && strings.Contains(m.Blocks, "Expired")
			}
		}
		return false
	}) {
		t.Fatalf("the other replica did not edit the message: %s", dump(hs.fake.Messages(approvalsChannelID, "")))
	}
}

// Approvals that need input get no buttons (Slack cannot collect it).
func TestApprovalsChannelMessageShapes(t *testing.T) {
	ap := pendingApproval("ap-x")
	ap.PauseType = core.PauseUserInput
	_, blocks := approvalsChannelMessage(ap)
	b, _ := json.Marshal(blocks)
	if strings.Contains(string(b), ActionApprovalApprove) || !strings.Contains(string(b), "POST /approvals/ap-x/resolve") {
		t.Fatalf("a user-input approval: %s", b)
	}
	ap = pendingApproval("ap-y")
	ap.ToolArgs = json.RawMessage(`{"q":"<!channel> & co"}`)
	_, blocks = approvalsChannelMessage(ap)
	b, _ = json.Marshal(blocks)
	if strings.Contains(string(b), "<!channel>") {
		t.Fatalf("the arguments must be escaped: %s", b)
	}
}

func TestApprovalsChannelSettingsValidate(t *testing.T) {
	ok := ApprovalsChannel{Channel: "C123", Approvers: map[string]string{"U1": "alice"}}
	if err := ok.validate("x"); err != nil {
		t.Fatal(err)
	}
	if err := (ApprovalsChannel{}).validate("x"); err != nil {
		t.Fatalf("no channel is valid (off): %v", err)
	}
	for want, c := range map[string]ApprovalsChannel{
		"has no approvers":               {Channel: "C123"},
		"not a Slack channel id":         {Channel: "#approvals", Approvers: map[string]string{"U1": "a"}},
		"not a Slack user id":            {Channel: "C123", Approvers: map[string]string{"alice": "a"}},
		"the approver identity is empty": {Channel: "C123", Approvers: map[string]string{"U1": " "}},
		"without a channel":              {Approvers: map[string]string{"U1": "a"}},
	} {
		if err := c.validate("slack.apps[0].approvals"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", c, err, want)
		}
	}
	s := Settings{Apps: []AppSettings{{Agent: "a", BotToken: "xoxb", SigningSecret: "s",
		Approvals: ApprovalsChannel{Channel: "C1"}}}}
	if err := s.Validate(func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "slack.apps[0] (a).approvals") {
		t.Fatalf("Settings.Validate: %v", err)
	}
}

// Through the real engine: a run of the app's agent pausing on an
// approval: required (auto_continue) tool is posted to the approvals
// channel; a refused user's click leaves it pending; an approver's click
// resolves it in the store as the mapped identity, edits the message, and
// the run goes on by itself to completion.
func TestApprovalsChannelWithEngine(t *testing.T) {
	hs := newHarness(t, "autogated", func(c *Config) {
		c.Apps[0].Approvals = ApprovalsChannel{Channel: approvalsChannelID, Approvers: map[string]string{"UALICE": "alice@example.com"}}
	})
	calc := tool.Calculator()
	calc.Flags = tool.Flags{Approval: core.ApprovalRequired, AutoContinue: true}
	gated, err := agent.New(agent.Config{ID: "autogated", ModelName: "autogated", Tools: []*tool.Tool{calc},
		Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{
			ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
			Reply:     "result {{tool_result}}", RejectedReply: "rejected",
		}}})})
	if err != nil {
		t.Fatal(err)
	}
	if err := hs.eng.RegisterAgent(gated); err != nil {
		t.Fatal(err)
	}
	if !hs.h.HasApprovalsChannel() {
		t.Fatal("approvals channel off")
	}
	hs.eng.AddApprovalObserver(hs.h) // what Interface.Mount does
	ctx := context.Background()
	run, err := hs.eng.Start(ctx, core.StartParams{AgentID: "autogated", Message: "compute", UserID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	paused := hs.waitRun(run.RunID, core.RunPaused)
	var approvalID string
	if paused.Paused != nil {
		for _, tl := range paused.Paused.Pending {
			approvalID = cmp.Or(approvalID, tl.ApprovalID)
		}
	}
	if approvalID == "" {
		t.Fatalf("the paused run carries no approval id: %+v", paused.Paused)
	}
	var msg fakeslack.Message
	testutil.Eventually(t, 10*time.Second, "the approval message, noted in the approval", func() bool {
		ap, err := hs.eng.GetApproval(ctx, approvalID)
		if err != nil || ap.Context[ContextSlackTS] == nil {
			return false
		}
		for _, m := range hs.fake.Messages(approvalsChannelID, "") {
			if m.TS == ap.Context[ContextSlackTS] {
				msg = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(msg.Blocks, `"value":"`+approvalID+`"`) || !strings.Contains(msg.Blocks, "calculator") ||
		!strings.Contains(msg.Blocks, run.RunID) || !strings.Contains(msg.Blocks, "bob") {
		t.Fatalf("message %s", msg.Blocks)
	}
	hs.click(msg, ActionApprovalApprove, "UMALLORY")
	hs.drain()
	if ap, _ := hs.eng.GetApproval(ctx, approvalID); ap.Status != core.ApprovalPending {
		t.Fatalf("a refused click resolved it: %s", ap.Status)
	}
	if eph := hs.fake.Calls("chat.postEphemeral"); len(eph) != 1 || eph[0].Values.Get("user") != "UMALLORY" {
		t.Fatalf("ephemeral refusal: %+v", eph)
	}
	hs.click(msg, ActionApprovalApprove, "UALICE")
	hs.drain()
	ap, err := hs.eng.GetApproval(ctx, approvalID)
	if err != nil || ap.Status != core.ApprovalApproved || ap.ResolvedBy != "alice@example.com" {
		t.Fatalf("approval %+v, %v", ap, err)
	}
	done := hs.waitRun(run.RunID, core.RunCompleted)
	if !strings.Contains(done.Content, "result 42") {
		t.Fatalf("run content %q", done.Content)
	}
	testutil.Eventually(t, 10*time.Second, "the message edited", func() bool {
		for _, m := range hs.fake.Messages(approvalsChannelID, "") {
			if m.TS == msg.TS {
				return m.Edits == 1 && strings.Contains(m.Blocks, "Approved* by alice@example.com") && !strings.Contains(m.Blocks, ActionApprovalApprove)
			}
		}
		return false
	})
}

// Over Socket Mode, an approver's click (an interactive envelope) on the
// approvals channel's message resolves the approval too.
func TestApprovalsChannelSocketMode(t *testing.T) {
	svc := newFakeApprovals()
	hs := newHarness(t, "approver", func(c *Config) {
		c.SocketMode = true
		c.Apps[0].SigningSecret = ""
		c.Apps[0].AppToken = "xapp-test"
		c.Apps[0].Approvals = ApprovalsChannel{Channel: approvalsChannelID, Approvers: map[string]string{"UALICE": "alice@example.com"}}
		c.ApprovalService = svc
	})
	svc.observer = hs.h
	conn, ok := hs.fake.WaitSocket(10 * time.Second)
	if !ok {
		t.Fatal("no Socket Mode connection")
	}
	ap := pendingApproval("ap-sock")
	svc.add(ap)
	hs.h.ApprovalCreated(context.Background(), ap)
	msg := waitPosted(t, hs, svc, ap.ID)
	payload, err := fakeslack.ButtonClick(msg, ActionApprovalApprove, "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	id, err := hs.fake.SendEnvelope(conn, "interactive", payload)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the click to resolve the approval", func() bool {
		return hs.fake.Acked(id) && svc.get(ap.ID).Status == core.ApprovalApproved
	})
	if got := svc.get(ap.ID); got.ResolvedBy != "alice@example.com" {
		t.Fatalf("resolved by %q", got.ResolvedBy)
	}
}
