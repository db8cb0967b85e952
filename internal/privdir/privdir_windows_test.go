package privdir

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/openmfd/mfd/internal/testdir"
)

func testDir(t *testing.T) string { return testdir.New(t) }

func me(t *testing.T) string {
	t.Helper()
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	return tu.User.Sid.String()
}

func dacl(t *testing.T, path string) string {
	t.Helper()
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatalf("reading the DACL of %s: %v", path, err)
	}
	return sd.String()
}

// underWine reports whether the test runs in Wine, which keeps no DACL
// on files: it answers a DACL made up from the Unix mode.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

// checkPrivate checks dir's DACL, and that a file made in it afterwards
// inherits the one entry and nothing else. Under Wine it can only check
// that Make succeeded.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	if underWine() {
		t.Logf("under Wine: the DACL of %s is not kept, not checking it", dir)
		return
	}
	if got, want := dacl(t, dir), SDDL(me(t)); got != want {
		t.Errorf("DACL of %s = %s, want %s", dir, got, want)
	}
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f)
	if got, want := dacl(t, f), "D:(A;ID;FA;;;"+me(t)+")"; got != want {
		t.Errorf("DACL of a new file in %s = %s, want %s", dir, got, want)
	}
}

// TestSDDL checks the descriptor Make applies: protected, one entry, full
// control for the user, inherited by files and dirs inside.
func TestSDDL(t *testing.T) {
	sid := me(t)
	sd, err := windows.SecurityDescriptorFromString(SDDL(sid))
	if err != nil {
		t.Fatal(err)
	}
	ctl, _, err := sd.Control()
	if err != nil || ctl&windows.SE_DACL_PROTECTED == 0 {
		t.Errorf("control of %s = %#x, %v; want SE_DACL_PROTECTED", SDDL(sid), ctl, err)
	}
	d, _, err := sd.DACL()
	if err != nil || d.AceCount != 1 {
		t.Fatalf("DACL of %s: %v, %v; want one entry", SDDL(sid), d, err)
	}
	var ace *windows.ACCESS_ALLOWED_ACE
	if err := windows.GetAce(d, 0, &ace); err != nil {
		t.Fatal(err)
	}
	const fileAllAccess = 0x1f01ff // FILE_ALL_ACCESS
	got := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
	if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || got.String() != sid ||
		ace.Mask != fileAllAccess || ace.Header.AceFlags != windows.OBJECT_INHERIT_ACE|windows.CONTAINER_INHERIT_ACE {
		t.Errorf("entry of %s: type %d, sid %s, mask %#x, flags %#x; want allow %s full control, inherited", SDDL(sid), ace.Header.AceType, got, ace.Mask, ace.Header.AceFlags, sid)
	}
}

func TestMakeTightensLooseDir(t *testing.T) {
	dir := filepath.Join(testDir(t), "loose")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := filepath.Join(dir, "before")
	if err := os.WriteFile(before, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Make(dir); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
	// What the dir held already is private too.
	if underWine() {
		return
	}
	if got, want := dacl(t, before), "D:(A;ID;FA;;;"+me(t)+")"; got != want {
		t.Errorf("DACL of a file made before Make = %s, want %s", got, want)
	}
}
