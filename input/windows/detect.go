package windows

import "github.com/openmfd/mfd/input"

// Detect accepts a Windows session. It is here, not behind the windows
// build tag, so that mfd doctor's table tests can ask it about any env.
func Detect(env input.Env) (bool, string) {
	if env.GOOS() != "windows" {
		return false, "not Windows"
	}
	return true, "a Windows desktop: SendInput"
}
