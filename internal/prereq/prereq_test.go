package prereq

import (
	"strings"
	"testing"
)

// recorder catches Skip and Fatal without ending the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = args[0].(string); panic(r) }
func (r *recorder) Fatal(args ...any) { r.failed = args[0].(string); panic(r) }
func (r *recorder) run(f func(testing.TB)) *recorder {
	func() {
		defer func() { _ = recover() }()
		f(r)
	}()
	return r
}

func TestRequireSkipsWithTheInstallLineAndFailsInCI(t *testing.T) {
	tools := []Tool{{Bin: "sh", Pkg: "dash"}, {Bin: "mfd-no-such-program", Pkg: "mfd-no-such-package"}}
	t.Setenv("CI", "")
	r := (&recorder{TB: t}).run(func(tb testing.TB) { Require(tb, tools...) })
	if r.failed != "" || !strings.Contains(r.skipped, "missing mfd-no-such-program; install with: sudo apt-get install -y mfd-no-such-package") {
		t.Errorf("Require without CI: skipped %q, failed %q; want a skip with the install line", r.skipped, r.failed)
	}
	if strings.Contains(r.skipped, "dash") {
		t.Errorf("Require named a program that is there: %q", r.skipped)
	}
	t.Setenv("CI", "true")
	r = (&recorder{TB: t}).run(func(tb testing.TB) { Require(tb, tools...) })
	if r.skipped != "" || !strings.Contains(r.failed, "mfd-no-such-program") {
		t.Errorf("Require with CI=true: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
	r = (&recorder{TB: t}).run(func(tb testing.TB) { Require(tb, Tool{Bin: "sh", Pkg: "dash"}) })
	if r.skipped != "" || r.failed != "" {
		t.Errorf("Require with everything there: skipped %q, failed %q", r.skipped, r.failed)
	}
}
