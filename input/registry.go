package input

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Env is the part of the environment that backend detection reads. It is
// an interface so that detection can be tested over a table of sessions.
type Env interface {
	// Getenv is os.Getenv.
	Getenv(key string) string
	// Writable reports whether path can be opened for writing
	// (/dev/uinput, for example).
	Writable(path string) bool
	// GOOS is runtime.GOOS.
	GOOS() string
}

// OSEnv returns the Env of this process.
func OSEnv() Env { return osEnv{} }

type osEnv struct{}

func (osEnv) Getenv(k string) string { return os.Getenv(k) }
func (osEnv) GOOS() string           { return runtime.GOOS }
func (osEnv) Writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// MapEnv is an Env read from a map, for tests and for mfd doctor's
// explanations. Writable reports the paths listed in Paths.
type MapEnv struct {
	Vars  map[string]string
	Paths []string
	OS    string
}

func (m MapEnv) Getenv(k string) string    { return m.Vars[k] }
func (m MapEnv) Writable(path string) bool { return slices.Contains(m.Paths, path) }
func (m MapEnv) GOOS() string              { return cmp.Or(m.OS, "linux") }

// Backend is one registered input backend.
type Backend struct {
	// Name is what --input and the status topic call it ("x11").
	Name string
	// Order places the backend in auto detection: lower is tried first.
	Order int
	// Detect reports whether the backend fits the session env describes,
	// and why or why not, in words mfd doctor prints. It must not open
	// anything that has a visible effect.
	Detect func(env Env) (ok bool, why string)
	// Open opens the backend.
	Open func(opts Options) (Injector, error)
}

var (
	mu       sync.Mutex
	backends = map[string]Backend{}
)

// Register makes a backend available to Open and Detect. Backend packages
// call it from init; it panics on an empty or duplicate name, which is a
// programming error.
func Register(b Backend) {
	mu.Lock()
	defer mu.Unlock()
	if b.Name == "" || b.Open == nil || b.Detect == nil {
		panic("input: Register of an incomplete backend")
	}
	if _, dup := backends[b.Name]; dup {
		panic("input: Register called twice for backend " + b.Name)
	}
	backends[b.Name] = b
}

// Backends returns the registered backends in detection order.
func Backends() []Backend {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Backend, 0, len(backends))
	for _, b := range backends {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Backend) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Names returns the names --input accepts: "auto" and every registered
// backend in detection order.
func Names() []string {
	names := []string{"auto"}
	for _, b := range Backends() {
		names = append(names, b.Name)
	}
	return names
}

// Finding is what detection found about one backend.
type Finding struct {
	Backend string
	// OK is true when Detect accepted the session.
	OK bool
	// Why is Detect's reason, or the error Open returned.
	Why string
	// Chosen is true for the backend Open returned.
	Chosen bool
}

// Choice is the outcome of Open: every backend considered, in order.
type Choice struct {
	Requested string
	Findings  []Finding
}

// Chosen returns the finding of the backend that was opened, or false.
func (c Choice) Chosen() (Finding, bool) {
	for _, f := range c.Findings {
		if f.Chosen {
			return f, true
		}
	}
	return Finding{}, false
}

// Detect runs every registered backend's Detect over env without opening
// anything and returns the findings in detection order. The first OK
// finding is the one Open("auto") would try first.
func Detect(env Env) []Finding {
	var out []Finding
	for _, b := range Backends() {
		ok, why := b.Detect(env)
		out = append(out, Finding{Backend: b.Name, OK: ok, Why: why})
	}
	return out
}

// ErrUnknownBackend is returned by Open for a name no backend registered.
var ErrUnknownBackend = errors.New("unknown input backend")

// Open opens the backend called name, or with "auto" (or "") the first
// backend in detection order whose Detect accepts the session and which
// opens. A named backend is opened without consulting Detect: the user
// asked for it. When nothing opens, Open returns Unavailable() and an
// error wrapping ErrNoInput that says why each backend was passed over;
// the Choice tells the same for mfd doctor and the log.
func Open(name string, opts Options) (Injector, Choice, error) {
	if opts.Env == nil {
		opts.Env = OSEnv()
	}
	name = cmp.Or(name, "auto")
	ch := Choice{Requested: name}
	if name != "auto" {
		mu.Lock()
		b, ok := backends[name]
		mu.Unlock()
		if !ok {
			return Unavailable(), ch, fmt.Errorf("%w %q (this build has: %s)", ErrUnknownBackend, name, strings.Join(Names(), ", "))
		}
		inj, err := b.Open(opts)
		if err != nil {
			ch.Findings = append(ch.Findings, Finding{Backend: name, Why: err.Error()})
			return Unavailable(), ch, fmt.Errorf("opening input backend %s: %w", name, err)
		}
		ch.Findings = append(ch.Findings, Finding{Backend: name, OK: true, Why: "asked for with --input", Chosen: true})
		return inj, ch, nil
	}
	var whys []string
	for _, b := range Backends() {
		ok, why := b.Detect(opts.Env)
		f := Finding{Backend: b.Name, OK: ok, Why: why}
		if ok {
			inj, err := b.Open(opts)
			if err == nil {
				f.Chosen = true
				ch.Findings = append(ch.Findings, f)
				return inj, ch, nil
			}
			f.OK = false
			f.Why = fmt.Sprintf("%s, but opening it failed: %v", why, err)
		}
		ch.Findings = append(ch.Findings, f)
		whys = append(whys, b.Name+": "+f.Why)
	}
	if len(whys) == 0 {
		whys = append(whys, "this build has no input backend")
	}
	return Unavailable(), ch, fmt.Errorf("%w (%s)", ErrNoInput, strings.Join(whys, "; "))
}
