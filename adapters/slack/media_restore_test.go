package slack

// The race of issue #21 through Slack: the bytes a shared file stored are
// deleted (another session's orphan delete) between the upload and the
// run's record of them; the run stores them again from the upload's kept
// spool and the model gets them. And a message whose files are refused
// leaves the media store as it was.

import (
	"context"
	"fmt"
	"testing"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/core/media/mediatest"
)

func TestSharedFileRestoredAfterDelete(t *testing.T) {
	dir, err := media.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &mediatest.DeleteAfterPut{Store: dir}
	store.Arm()
	hs := mediaHarnessOn(t, store, "eye", nil, nil)
	img := mediatest.PNG(4, 3)
	f := hs.fake.AddFile("late.png", "image/png", "xoxb-main", img)
	ts := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvRestore", "C1", "U1", ts, "", "still there?", f), nil)
	want := fmt.Sprintf("I see: image/png late.png %d bytes sha256:%s (asked: still there?)", len(img), sha(img))
	hs.waitText("C1", ts, want)
	hs.drain()
	if deleted := store.Deleted(); len(deleted) != 1 || deleted[0] != sha(img) {
		t.Fatalf("the hook deleted %v, want the shared PNG once", deleted)
	}
	if _, err := core.ReadMedia(context.Background(), dir, sha(img), testFileLimit); err != nil {
		t.Fatalf("the run's medium is not in the store after the run: %v", err)
	}
	runs := hs.runsOf("eye:C1:" + ts)
	if len(runs) != 1 || runs[0].Status != core.RunCompleted || len(runs[0].Input.Images) != 1 {
		t.Fatalf("want one completed run with the image; got %+v", runs)
	}
}

func TestRefusedShareStoresNothing(t *testing.T) {
	hs, store := mediaHarness(t, "eye", nil, nil)
	ctx := context.Background()
	kept := mediatest.PNG(2, 2)
	// A session carries kept.
	f := hs.fake.AddFile("kept.png", "image/png", "xoxb-main", kept)
	ts := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvKeep", "C1", "U1", ts, "", "keep", f), nil)
	hs.waitText("C1", ts, "I see: image/png kept.png")
	hs.drain()

	// A message sharing kept again, a new file, then a lying one: refused.
	fresh := mediatest.PNG(5, 1)
	files := []fakeslack.File{
		hs.fake.AddFile("again.png", "image/png", "xoxb-main", kept),
		hs.fake.AddFile("fresh.png", "image/png", "xoxb-main", fresh),
		hs.fake.AddFile("fake.png", "image/png", "xoxb-main", []byte("not a png at all")),
	}
	ts2 := hs.ts()
	hs.event(fakeslack.MentionWithFiles("EvRefuse", "C1", "U1", ts2, "", "all three", files...), nil)
	hs.waitText("C1", ts2, "did not start")
	hs.drain()
	if runs := hs.runsOf("eye:C1:" + ts2); len(runs) != 0 {
		t.Fatalf("a refused message started %d runs", len(runs))
	}
	if got := len(hs.fake.Downloads()); got != 4 {
		t.Fatalf("%d downloads, want 4 (the refused message's files were fetched and stored before the lying one)", got)
	}
	if _, err := core.ReadMedia(ctx, store, sha(fresh), testFileLimit); core.CodeOf(err) != core.CodeNotFound {
		t.Errorf("the refused message's new file is still stored (err %v), want it deleted", err)
	}
	if got, err := core.ReadMedia(ctx, store, sha(kept), testFileLimit); err != nil || len(got) != len(kept) {
		t.Errorf("the medium another session carries is gone after the refusal: %v", err)
	}
}
