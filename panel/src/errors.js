// @ts-check
// Plain sentences for every reply code a user can meet: the codes are for
// programs, the sentences for people. The agent's message, when it has one
// (for example the program an exec step could not find), follows.

const SENTENCES = {
  bad_request: 'The host could not read this command.',
  unknown_op: 'The host does not know this kind of command (is its mfd older than the panel?).',
  unknown_key: 'The host does not know this key.',
  unknown_action: 'This button is no longer in the host’s config.',
  too_large: 'Too much at once: the command is over the host’s size limit.',
  rate_limited: 'Too many commands at once: the host is holding back. Try again in a moment.',
  expired: 'The command arrived too late and was not run.',
  no_input: 'The host has no screen to drive (no display or input backend).',
  input_off: 'Remote input is switched off on this host.',
  forbidden: 'The host does not allow this.',
  internal: 'Something went wrong on the host.',
  unsupported: 'The host’s input backend cannot do this.',
  refused: 'The host’s system did not let the input through (a locked screen, say, or an administrator’s window in front).',
  busy: 'This action is still running, so it was not started again.',
  cancelled: 'The action was stopped before it finished.',
  timeout: 'No answer from the host in time.',
  'host offline': 'The host went offline before it answered.',
  offline: 'Not connected: the panel is signing in again.',
  disconnected: 'The connection dropped before the host answered.',
  closed: 'The connection closed before the host answered.',
  send_failed: 'The command could not be sent.',
};

// SHORT is the word shown on a button's badge.
const SHORT = {
  input_off: 'input off', no_input: 'no input', unknown_action: 'gone', rate_limited: 'slow down',
  timeout: 'no answer', offline: 'offline', expired: 'too late', internal: 'failed',
  unsupported: 'unsupported', refused: 'refused', busy: 'running', cancelled: 'stopped',
  'host offline': 'host offline',
};

// sentence returns what went wrong with result r, as one or two plain
// sentences: the code's sentence and the host's own reason.
export function sentence(r) {
  if (r.ok) return `Done in ${r.ms} ms.`;
  const base = SENTENCES[r.code] || `The host answered “${r.code}”.`;
  const msg = (r.message || '').trim();
  return msg ? `${base} ${msg.charAt(0).toUpperCase()}${msg.slice(1)}${/[.!?]$/.test(msg) ? '' : '.'}` : base;
}

// short returns the few characters a button's badge has room for.
export function short(r) {
  if (r.ok) return `✓ ${r.ms} ms`;
  return `✗ ${SHORT[r.code] || 'failed'}`;
}
