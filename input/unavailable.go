package input

var _ Injector = unavailable{}

// unavailable is the Injector of a host with nothing to drive: it reports
// "unavailable" and refuses every input with ErrNoInput.
type unavailable struct{}

// Unavailable returns an Injector for a host with nothing to drive. Its
// Backend is "unavailable", its Caps and Screen are zero, and every input
// method returns ErrNoInput. It is safe for concurrent use.
func Unavailable() Injector { return unavailable{} }

func (unavailable) Backend() string            { return "unavailable" }
func (unavailable) Caps() Caps                 { return Caps{} }
func (unavailable) Screen() (w, h int)         { return 0, 0 }
func (unavailable) KeyDown(string) error       { return ErrNoInput }
func (unavailable) KeyUp(string) error         { return ErrNoInput }
func (unavailable) Tap(string, []string) error { return ErrNoInput }
func (unavailable) Type(string) error          { return ErrNoInput }
func (unavailable) Move(int, int, bool) error  { return ErrNoInput }
func (unavailable) ButtonDown(Button) error    { return ErrNoInput }
func (unavailable) ButtonUp(Button) error      { return ErrNoInput }
func (unavailable) Click(Button, int) error    { return ErrNoInput }
func (unavailable) Scroll(int, int) error      { return ErrNoInput }
func (unavailable) Close() error               { return nil }
