package privdir

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMakeCreatesParents(t *testing.T) {
	dir := filepath.Join(testDir(t), "a", "b", "mfd")
	if err := Make(dir); err != nil {
		t.Fatalf("Make(%s): %v", dir, err)
	}
	checkPrivate(t, dir)
	// A second call on an existing private dir changes nothing.
	if err := Make(dir); err != nil {
		t.Fatalf("Make(%s) again: %v", dir, err)
	}
	checkPrivate(t, dir)
}

func TestMakeRefusesFile(t *testing.T) {
	f := filepath.Join(testDir(t), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Make(f); err == nil {
		t.Errorf("Make(%s) on a file succeeded", f)
	}
	if err := Make(""); err == nil {
		t.Error(`Make("") succeeded`)
	}
}
