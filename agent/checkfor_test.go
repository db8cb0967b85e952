package agent

import "github.com/openmfd/mfd/internal/poll"

// checkFor polls until a condition holds (see poll.Until).
var checkFor = poll.Until
