package input_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/openmfd/mfd/input"
)

// fakeBackend registers a backend whose Detect answers ok, why and whose
// Open fails with openErr when it is set.
func fakeBackend(name string, order int, ok bool, why string, openErr error) input.Backend {
	return input.Backend{
		Name:   name,
		Order:  order,
		Detect: func(input.Env) (bool, string) { return ok, why },
		Open: func(input.Options) (input.Injector, error) {
			if openErr != nil {
				return nil, openErr
			}
			return fakeInjector{name: name}, nil
		},
	}
}

// fakeInjector is an Injector that only has a name; its other methods
// are never called here.
type fakeInjector struct {
	input.Injector
	name string
}

func (f fakeInjector) Backend() string { return f.name }

func init() {
	// Registered once for the whole test binary: the registry is global,
	// as image.RegisterFormat's is.
	input.Register(fakeBackend("t-first-refuses", -30, false, "not this session", nil))
	input.Register(fakeBackend("t-fits-fails", -20, true, "fits", errors.New("socket gone")))
	input.Register(fakeBackend("t-fits", -10, true, "fits well", nil))
}

func TestOpenAutoTakesFirstThatFitsAndOpens(t *testing.T) {
	inj, ch, err := input.Open("auto", input.Options{Env: input.MapEnv{}})
	if err != nil {
		t.Fatalf("Open(auto) = %v", err)
	}
	if got := inj.Backend(); got != "t-fits" {
		t.Fatalf("Open(auto) chose %q, want t-fits", got)
	}
	var got []string
	for _, f := range ch.Findings {
		got = append(got, f.Backend)
	}
	if want := []string{"t-first-refuses", "t-fits-fails", "t-fits"}; !slices.Equal(got, want) {
		t.Errorf("findings = %v, want %v (detection order, stopping at the chosen one)", got, want)
	}
	if f := ch.Findings[1]; f.OK || !strings.Contains(f.Why, "socket gone") {
		t.Errorf("a backend that fits but does not open: %+v, want not OK with the open error", f)
	}
	if f, ok := ch.Chosen(); !ok || f.Backend != "t-fits" || f.Why != "fits well" {
		t.Errorf("Chosen() = %+v, %v", f, ok)
	}
}

func TestOpenNamed(t *testing.T) {
	// A named backend opens even when Detect would refuse it.
	inj, _, err := input.Open("t-first-refuses", input.Options{Env: input.MapEnv{}})
	if err != nil || inj.Backend() != "t-first-refuses" {
		t.Fatalf("Open(t-first-refuses) = %v, %v", inj, err)
	}
	inj, _, err = input.Open("t-fits-fails", input.Options{Env: input.MapEnv{}})
	if err == nil || !strings.Contains(err.Error(), "socket gone") || inj.Backend() != "unavailable" {
		t.Errorf("Open of a named backend that fails = %v, %v; want the error and Unavailable", inj.Backend(), err)
	}
	_, _, err = input.Open("nosuch", input.Options{Env: input.MapEnv{}})
	if !errors.Is(err, input.ErrUnknownBackend) {
		t.Errorf("Open(nosuch) = %v, want ErrUnknownBackend", err)
	}
}

func TestNamesInDetectionOrder(t *testing.T) {
	names := input.Names()
	if names[0] != "auto" || !slices.Contains(names, "t-fits") {
		t.Fatalf("Names() = %v", names)
	}
	if i, j := slices.Index(names, "t-first-refuses"), slices.Index(names, "t-fits"); i > j {
		t.Errorf("Names() = %v: not in detection order", names)
	}
}

func TestUnavailableRefusesEverything(t *testing.T) {
	u := input.Unavailable()
	if u.Backend() != "unavailable" || u.Caps() != (input.Caps{}) {
		t.Errorf("Unavailable() = %q %+v", u.Backend(), u.Caps())
	}
	for name, err := range map[string]error{
		"KeyDown": u.KeyDown("a"), "Tap": u.Tap("a", nil), "Type": u.Type("a"),
		"Move": u.Move(1, 1, false), "Click": u.Click(input.ButtonLeft, 1), "Scroll": u.Scroll(0, 1),
	} {
		if !errors.Is(err, input.ErrNoInput) {
			t.Errorf("Unavailable().%s = %v, want ErrNoInput", name, err)
		}
	}
}

func TestCheckScroll(t *testing.T) {
	for _, tt := range []struct {
		dx, dy int
		ok     bool
	}{{0, 1000, true}, {-1000, 0, true}, {0, 1001, false}, {-1001, 0, false}} {
		if err := input.CheckScroll(tt.dx, tt.dy); (err == nil) != tt.ok {
			t.Errorf("CheckScroll(%d, %d) = %v, want ok %v", tt.dx, tt.dy, err, tt.ok)
		}
	}
}
