// Package prereq is the tests' one rule for a missing program: on a
// developer's machine the test is skipped, loudly and with the line that
// installs what is missing; with CI=true in the environment it fails,
// because CI installs every prerequisite.
package prereq

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tool is a program and the Debian package that holds it.
type Tool struct{ Bin, Pkg string }

// Require skips tb (fails it under CI=true) when one of tools is not on
// PATH, naming the missing programs and the apt-get line that installs
// them.
func Require(tb testing.TB, tools ...Tool) {
	tb.Helper()
	var missing, pkgs []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.Bin); err != nil {
			missing = append(missing, t.Bin)
			pkgs = append(pkgs, t.Pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	Missing(tb, fmt.Sprintf("missing %s; install with: sudo apt-get install -y %s",
		strings.Join(missing, ", "), strings.Join(pkgs, " ")))
}

// Missing skips tb with msg, which says what is missing and how to
// install it; under CI=true it fails tb instead.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
