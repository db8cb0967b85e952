package authsvc

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openmfd/mfd/internal/ids"
	"github.com/openmfd/mfd/internal/wire"
)

// PairingRequest is what the host is shown about a new pairing request so
// the user can compare the code with the one on the client. It never holds
// the client key.
type PairingRequest struct {
	Sub        ids.Subject
	Name       string
	Role       wire.Role
	Host       ids.HostID
	Code       string
	RemoteAddr string
	ExpiresAt  time.Time
}

// Notifier tells the user on the host about a new pairing request.
// NotifyPairing must not block: the service calls it while answering the
// HTTP request.
type Notifier interface {
	NotifyPairing(req PairingRequest)
}

// LogNotifier is the default Notifier. It shows nothing beyond the log line
// the service writes for every new request.
type LogNotifier struct{}

// NotifyPairing does nothing: the service has already logged the request.
func (LogNotifier) NotifyPairing(PairingRequest) {}

// DesktopNotifier shows a desktop notification: with notify-send on
// Linux and the BSDs when that program is on PATH, as a toast through
// Windows PowerShell on Windows. It never blocks and never fails the
// request; a missing or failing program is logged at debug level.
type DesktopNotifier struct {
	// Logger receives failures; nil discards them.
	Logger *slog.Logger
}

// NewDesktopNotifier returns a DesktopNotifier that logs its failures to
// logger at debug level.
func NewDesktopNotifier(logger *slog.Logger) Notifier {
	return DesktopNotifier{Logger: logger}
}

// notifyTimeout bounds the notification program: a hung one must not pile
// up with every new request.
const notifyTimeout = 30 * time.Second

// NotifyPairing shows the request in the background.
func (d DesktopNotifier) NotifyPairing(req PairingRequest) {
	d.show("mfd: pairing request", strings.Split(pairingText(req), "\n"))
}

// pairingText is what the notification says: who asks, from where, the
// code, and for an agent the host by name and short ID, so the user sees
// which machine would be driven.
func pairingText(req PairingRequest) string {
	if req.Role == wire.RoleAgent {
		return fmt.Sprintf("%q (agent of host %s, ID %s) from %s wants to pair.\nCode: %s\nApprove with: mfd clients approve %s",
			req.Name, req.Name, req.Host.Short(), req.RemoteAddr, req.Code, req.Code)
	}
	return fmt.Sprintf("%q (%s) from %s wants to pair.\nCode: %s\nApprove with: mfd clients approve %s",
		req.Name, req.Role, req.RemoteAddr, req.Code, req.Code)
}

func (d DesktopNotifier) debug(msg string, args ...any) {
	if d.Logger != nil {
		d.Logger.Debug(msg, args...)
	}
}
