package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"

	"github.com/openmfd/mfd/internal/atomicfile"
)

// On Windows the admin channel is a named pipe, the Windows convention for
// a local control channel (and Wine has no AF_UNIX). Its DACL admits the
// current user alone, it rejects remote clients, and both ends check who
// is on the other side. Its name is random and kept in STATE_DIR/admin.pipe,
// which only the owner can read: pipe names are one namespace for every
// user of the machine, and a name another user could work out would let
// them create the pipe first, either to keep the server from starting or
// to be the server `mfd clients approve` talks to.

const pipeFile = "admin.pipe"

// pipePrefix starts every admin pipe's name, so that a pipe listing
// (e.g. PowerShell's Get-ChildItem \\.\pipe\) says whose it is.
const pipePrefix = `\\.\pipe\mfd-admin-`

// newPipeName makes a fresh pipe name for dir: a digest of the state
// dir, so that two servers never collide, and a random part, so that no
// one else can guess it.
func newPipeName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	// Windows paths are case-insensitive: C:\Users\A\mfd and c:\users\a\MFD
	// are one dir and get one digest.
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(abs))))
	return pipePrefix + hex.EncodeToString(sum[:8]) + "-" + strings.ToLower(rand.Text())
}

// readPipeName returns the name the server of dir listens on.
func readPipeName(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, pipeFile))
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	if !strings.HasPrefix(name, pipePrefix) || strings.ContainsAny(name[len(pipePrefix):], `\/`) {
		return "", fmt.Errorf("%s holds %q, not an admin pipe name", filepath.Join(dir, pipeFile), name)
	}
	return name, nil
}

// pipeSDDL is the pipe's security descriptor: owned by sid, with a
// protected DACL (nothing inherited) that grants sid alone full access. No
// entry for SYSTEM or Administrators: like the Unix socket's 0600, only
// the user who runs the server may use it.
func pipeSDDL(sid string) string {
	return "O:" + sid + "D:P(A;;GA;;;" + sid + ")"
}

// Listen opens stateDir's admin pipe, refusing when a live server of the
// same state dir answers on the one named in admin.pipe.
func Listen(dir string) (net.Listener, error) {
	if name, err := readPipeName(dir); err == nil {
		timeout := time.Second
		if c, err := winio.DialPipe(name, &timeout); err == nil {
			c.Close()
			return nil, fmt.Errorf("another server is running on %s", name)
		}
	}
	me, err := currentUser()
	if err != nil {
		return nil, err
	}
	name := newPipeName(dir)
	// ListenPipe creates the first instance with FILE_CREATE: it fails
	// rather than join a pipe someone else made.
	ln, err := winio.ListenPipe(name, &winio.PipeConfig{SecurityDescriptor: pipeSDDL(me.String())})
	if err != nil {
		return nil, fmt.Errorf("creating pipe %s: %w", name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, pipeFile), []byte(name+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("saving the admin pipe's name: %w", err)
	}
	return ln, nil
}

// dial connects to the admin pipe of dir's server and checks that the
// server runs as the current user.
func dial(dir string, timeout time.Duration) (net.Conn, error) {
	name, err := readPipeName(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no server has run with state dir %s", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the admin pipe's name: %w", err)
	}
	c, err := winio.DialPipe(name, &timeout)
	if err != nil {
		return nil, err
	}
	if err := checkPipeServer(c); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// checkPeer refuses a pipe client that runs as another user. The DACL
// already says so; this holds even if the DACL were loosened.
func checkPeer(c net.Conn) error {
	h, err := pipeHandle(c)
	if err != nil {
		return err
	}
	var pid uint32
	if err := windows.GetNamedPipeClientProcessId(h, &pid); err != nil {
		return fmt.Errorf("reading the pipe client's process: %w", err)
	}
	return checkProcessUser(pid)
}

// checkPipeServer refuses a pipe whose server process runs as another
// user: the random name makes that unlikely, this makes it harmless.
func checkPipeServer(c net.Conn) error {
	h, err := pipeHandle(c)
	if err != nil {
		return err
	}
	var pid uint32
	if err := windows.GetNamedPipeServerProcessId(h, &pid); err != nil {
		return fmt.Errorf("reading the pipe server's process: %w", err)
	}
	if err := checkProcessUser(pid); err != nil {
		return fmt.Errorf("pipe server: %w", err)
	}
	return nil
}

func pipeHandle(c net.Conn) (windows.Handle, error) {
	f, ok := c.(interface{ Fd() uintptr })
	if !ok {
		return 0, fmt.Errorf("admin connection %T is not a pipe", c)
	}
	return windows.Handle(f.Fd()), nil
}

// checkProcessUser returns an error unless process pid runs as the
// current user.
func checkProcessUser(pid uint32) error {
	me, err := currentUser()
	if err != nil {
		return err
	}
	p, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return fmt.Errorf("opening process %d: %w", pid, err)
	}
	defer windows.CloseHandle(p)
	var tok windows.Token
	if err := windows.OpenProcessToken(p, windows.TOKEN_QUERY, &tok); err != nil {
		return fmt.Errorf("opening the token of process %d: %w", pid, err)
	}
	defer tok.Close()
	tu, err := tok.GetTokenUser()
	if err != nil {
		return fmt.Errorf("reading the user of process %d: %w", pid, err)
	}
	if !tu.User.Sid.Equals(me) {
		return fmt.Errorf("process %d runs as %s, not as %s", pid, tu.User.Sid, me)
	}
	return nil
}

// currentUser returns the SID of the user this process runs as.
func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("reading the current user: %w", err)
	}
	return tu.User.Sid, nil
}
