package index

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/condachan/condachan/channel"
)

func TestResultMessages(t *testing.T) {
	var none *Result
	if none.Unreadable() != 0 || none.Messages() != nil {
		t.Error("a nil Result has something to say")
	}
	r := &Result{
		Subdirs: []SubdirResult{
			{Subdir: "linux-64", Unreadable: []Problem{{File: "bad-1-0.conda", Error: "truncated"}}, Warnings: []string{"x-1-0.conda: odd"}},
			{Subdir: "noarch", Unreadable: []Problem{{File: "b.conda", Error: "e"}}},
		},
		Swept:      []channel.Leftover{{Kind: channel.LeftoverTempFile, Key: "noarch/.t.tmp-1", Since: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}},
		SweepError: "access denied",
	}
	if n := r.Unreadable(); n != 2 {
		t.Errorf("Unreadable() = %d", n)
	}
	want := []string{
		"warning: linux-64/bad-1-0.conda is not a readable package and was left out of the index: truncated",
		"warning: linux-64/x-1-0.conda: odd",
		"warning: noarch/b.conda is not a readable package and was left out of the index: e",
		"removed the temp file noarch/.t.tmp-1, left by an interrupted write (2024-05-01T12:00:00Z)",
		"warning: could not look for leftovers of interrupted writes: access denied",
	}
	if got := r.Messages(); !slices.Equal(got, want) {
		t.Errorf("Messages() =\n%q\nwant\n%q", got, want)
	}
}

// DescribeOutputs lists every file an index run writes, with its readers, and nothing
// else: the index command's help is made of it.
func TestDescribeOutputs(t *testing.T) {
	got := DescribeOutputs()
	for _, want := range []string{
		"  <subdir>/" + RepodataJSON + " ",
		"  <subdir>/" + ShardsFolder + "<sha256>.msgpack.zst ",
		"  " + ChannelDataJSON + " ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("DescribeOutputs lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "current_repodata.json") || strings.Contains(got, "rss.xml") {
		t.Errorf("DescribeOutputs lists files an index run does not write:\n%s", got)
	}
	if lines := strings.Count(got, "\n"); lines != len(SubdirOutputs(Indexer))+2 {
		t.Errorf("%d lines:\n%s", lines, got)
	}
}
