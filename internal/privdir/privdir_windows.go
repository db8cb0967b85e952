package privdir

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// restrict gives dir a protected DACL (nothing inherited from above) with
// one entry: full control for the current user, inherited by every file
// and dir inside, as 0700 does on Unix. SetNamedSecurityInfo carries the
// entry down to what dir holds already.
func restrict(dir string, _ os.FileInfo) error {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return fmt.Errorf("reading the current user: %w", err)
	}
	sd, err := windows.SecurityDescriptorFromString(SDDL(tu.User.Sid.String()))
	if err != nil {
		return fmt.Errorf("parsing the security descriptor: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("reading the DACL: %w", err)
	}
	return windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
}

// SDDL is the security descriptor Make gives a dir on Windows, for the
// user with SID sid: a protected DACL granting sid full control, for the
// dir, its files (OI) and its subdirs (CI).
func SDDL(sid string) string { return "D:P(A;OICI;FA;;;" + sid + ")" }
