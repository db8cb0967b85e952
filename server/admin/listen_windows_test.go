package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/windows"

	"github.com/openmfd/mfd/internal/testdir"
)

func init() {
	// go-winio runs one I/O completion goroutine per process, for good.
	leakIgnores = append(leakIgnores, goleak.IgnoreAnyFunction("github.com/Microsoft/go-winio.ioCompletionProcessor"))
}

// checkPrivate checks that only the current user can reach dir's admin
// pipe: its owner is the user and its DACL, protected from inheritance,
// grants the user alone.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	name, err := readPipeName(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(dir, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := pipeHandle(c)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.GetSecurityInfo(h, windows.SE_KERNEL_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("reading the security of %s: %v", name, err)
	}
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	// Windows maps GA to the pipe's own rights (FA) when it creates the
	// pipe; Wine keeps GA.
	got := sd.String()
	if got != "O:"+me.String()+"D:P(A;;FA;;;"+me.String()+")" && got != "O:"+me.String()+"D:P(A;;GA;;;"+me.String()+")" {
		t.Errorf("admin pipe %s has security %s, want owner %s and a protected DACL that grants %[3]s alone", name, got, me)
	}
}

func TestAdminPipeName(t *testing.T) {
	a, b := testdir.New(t), testdir.New(t)
	na, nb := newPipeName(a), newPipeName(b)
	digest := func(n string) string { return strings.SplitN(strings.TrimPrefix(n, pipePrefix), "-", 2)[0] }
	if !strings.HasPrefix(na, pipePrefix) || digest(na) == digest(nb) {
		t.Errorf("pipe names of two state dirs: %s and %s; want the prefix and different digests", na, nb)
	}
	// One dir, spelt in another case, is one digest; the random part
	// still differs, so no one can work the name out from the path.
	again := newPipeName(strings.ToUpper(a))
	if digest(again) != digest(na) || again == na {
		t.Errorf("pipe names of %s twice: %s and %s; want one digest, different names", a, na, again)
	}
}

func TestAdminPipeStale(t *testing.T) {
	dir := stateDir(t)
	// The name a killed server left behind: nothing listens on it.
	stale := newPipeName(dir)
	if err := os.WriteFile(filepath.Join(dir, pipeFile), []byte(stale+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serve(t, dir, &fakeHandler{})
	name, err := readPipeName(dir)
	if err != nil || name == stale {
		t.Errorf("admin pipe after a stale name = %q, %v; want a new name", name, err)
	}
	if _, err := Dial(dir); err != nil {
		t.Errorf("Dial after replacing a stale name: %v", err)
	}
}

func TestAdminPipeRefusesForeignName(t *testing.T) {
	dir := stateDir(t)
	for _, name := range []string{`\\.\pipe\someone-else`, `\\server\pipe\mfd-admin-x`, pipePrefix + `x\..\..\other`} {
		if err := os.WriteFile(filepath.Join(dir, pipeFile), []byte(name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Dial(dir); err == nil || !strings.Contains(err.Error(), "not an admin pipe name") {
			t.Errorf("Dial with admin.pipe naming %s = %v, want not an admin pipe name", name, err)
		}
	}
}

func TestCheckProcessUser(t *testing.T) {
	if err := checkProcessUser(windows.GetCurrentProcessId()); err != nil {
		t.Errorf("checkProcessUser(self) = %v", err)
	}
	// The System process (pid 4 on Windows) runs as SYSTEM; where it
	// cannot even be opened, that is a refusal too.
	if err := checkProcessUser(4); err == nil {
		t.Error("checkProcessUser(4) accepted the System process")
	}
}
