package authsvc

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

// checkAdminPrivate checks that only the current user can reach dir's
// admin pipe: its owner is the user and its DACL, protected from
// inheritance, grants the user alone.
func checkAdminPrivate(t *testing.T, dir string) {
	t.Helper()
	name, err := readAdminPipeName(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialAdmin(dir, adminTimeout)
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
	na, nb := newAdminPipeName(a), newAdminPipeName(b)
	digest := func(n string) string { return strings.SplitN(strings.TrimPrefix(n, adminPipePrefix), "-", 2)[0] }
	if !strings.HasPrefix(na, adminPipePrefix) || digest(na) == digest(nb) {
		t.Errorf("pipe names of two state dirs: %s and %s; want the prefix and different digests", na, nb)
	}
	// One dir, spelt in another case, is one digest; the random part
	// still differs, so no one can work the name out from the path.
	again := newAdminPipeName(strings.ToUpper(a))
	if digest(again) != digest(na) || again == na {
		t.Errorf("pipe names of %s twice: %s and %s; want one digest, different names", a, na, again)
	}
}

func TestAdminPipeStale(t *testing.T) {
	env := newTestService(t, nil)
	// The name a killed server left behind: nothing listens on it.
	stale := newAdminPipeName(env.dir)
	if err := os.WriteFile(filepath.Join(env.dir, adminPipeFile), []byte(stale+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startService(t, env)
	name, err := readAdminPipeName(env.dir)
	if err != nil || name == stale {
		t.Errorf("admin pipe after a stale name = %q, %v; want a new name", name, err)
	}
	if _, err := DialAdmin(env.dir); err != nil {
		t.Errorf("DialAdmin after replacing a stale name: %v", err)
	}
}

func TestAdminPipeRefusesForeignName(t *testing.T) {
	dir := testdir.New(t)
	for _, name := range []string{`\\.\pipe\someone-else`, `\\server\pipe\mfd-admin-x`, adminPipePrefix + `x\..\..\other`} {
		if err := os.WriteFile(filepath.Join(dir, adminPipeFile), []byte(name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := DialAdmin(dir); err == nil || !strings.Contains(err.Error(), "not an admin pipe name") {
			t.Errorf("DialAdmin with admin.pipe naming %s = %v, want not an admin pipe name", name, err)
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
