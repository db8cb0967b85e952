package authsvc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/openmfd/mfd/internal/ids"
)

const childEnv = "MFD_AUTHSVC_CRASH_CHILD"

// approveForever runs in a child process: it prints the server's identity,
// then pairs and approves clients as fast as it can, printing each subject
// once Approve has returned (and so has saved it), until it is killed.
func approveForever(dir string) {
	s, err := New(Options{StateDir: dir})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("id", s.ServerID(), s.Fingerprint(), s.signer.kid)
	for i := 0; ; i++ {
		res := s.authorise(panelReq(ids.NewClientKey(), "crash"), fmt.Sprintf("10.0.%d.%d", i/250%250, i%250))
		if res.out != outPending {
			fmt.Println("error outcome", res.out)
			return
		}
		if _, err := s.Approve(res.entry.code); err != nil {
			fmt.Println("error", err)
			return
		}
		if i%3 == 0 {
			if _, err := s.Revoke(string(res.entry.sub)); err != nil {
				fmt.Println("error", err)
				return
			}
			fmt.Println("revoked", res.entry.sub)
			continue
		}
		fmt.Println("approved", res.entry.sub)
	}
}

// TestKill9DuringApprovals kills a process in the middle of a stream of
// approvals and revocations, several times, and checks after each kill
// that the state loads with everything it had confirmed.
func TestKill9DuringApprovals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	want := map[ids.Subject]State{}
	var identity string
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() && n < 10+round*7 {
			f := strings.Fields(sc.Text())
			switch f[0] {
			case "id":
				if identity != "" && identity != sc.Text() {
					t.Errorf("round %d: identity %q, was %q", round, sc.Text(), identity)
				}
				identity = sc.Text()
			case "approved":
				want[ids.Subject(f[1])] = StateApproved
				n++
			case "revoked":
				want[ids.Subject(f[1])] = StateRevoked
				n++
			default:
				t.Fatalf("child: %s", sc.Text())
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		s, err := New(Options{StateDir: dir})
		if err != nil {
			t.Fatalf("round %d: New after kill -9: %v", round, err)
		}
		got := map[ids.Subject]State{}
		for _, ci := range s.List() {
			got[ci.Sub] = ci.State
		}
		for sub, st := range want {
			if got[sub] != st {
				t.Errorf("round %d: %s is %q after kill -9, want %q", round, sub, got[sub], st)
			}
		}
		if id := fmt.Sprint("id ", s.ServerID(), " ", s.Fingerprint(), " ", s.signer.kid); id != identity {
			t.Errorf("round %d: identity %q after kill -9, want %q", round, id, identity)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatalf("round %d: Start after kill -9: %v", round, err)
		}
		s.Close()
		if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(tmp) != 0 {
			t.Errorf("round %d: temp files left after New: %v", round, tmp)
		}
	}
	if len(want) < 40 {
		t.Errorf("only %d decisions confirmed", len(want))
	}
}
