package authsvc

import "time"

// Clock tells the service the time. Token lifetimes, pending expiry and
// last-seen times all read it, so tests can drive them with a fake clock.
type Clock interface {
	Now() time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now.
func (RealClock) Now() time.Time { return time.Now() }
