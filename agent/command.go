package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openmfd/mfd/input"
	"github.com/openmfd/mfd/input/keys"
	"github.com/openmfd/mfd/internal/wire"
)

// Limits on a command's fields beyond the contract's own (16 KiB, 4096
// characters): generous for any real screen or wheel, small enough that a
// hostile value cannot overflow the injector's integers.
const (
	maxIDLen   = 256
	maxCoord   = 1 << 20
	maxScroll  = 10000
	maxKeyName = 64
)

// cmdError is a failed command: a contract error code and a message for
// the client. Messages never quote more than a short piece of input.
type cmdError struct {
	code string
	msg  string
}

func (e *cmdError) Error() string { return e.code + ": " + e.msg }

func errf(code, format string, args ...any) *cmdError {
	return &cmdError{code: code, msg: fmt.Sprintf(format, args...)}
}

// command is a decoded, validated command: keys checked, mods resolved,
// numbers rounded into range.
type command struct {
	ID     string
	Op     string
	Key    string
	Mods   []string
	Text   string
	X, Y   int
	Rel    bool
	Button input.Button
	Count  int
	DX, DY int
	Action string
	// TS is the optional send time in Unix milliseconds; 0 when absent.
	TS int64
}

// rawCommand is the JSON shape of a command. Pointers tell "absent" from
// "zero"; a value of the wrong JSON type is a bad_request.
type rawCommand struct {
	ID     *string  `json:"id"`
	Op     *string  `json:"op"`
	Key    *string  `json:"key"`
	Mods   []string `json:"mods"`
	Text   *string  `json:"text"`
	X      *float64 `json:"x"`
	Y      *float64 `json:"y"`
	Rel    *bool    `json:"rel"`
	Button *string  `json:"button"`
	Count  *float64 `json:"count"`
	DX     *float64 `json:"dx"`
	DY     *float64 `json:"dy"`
	Action *string  `json:"action"`
	TS     *float64 `json:"ts"`
}

// commandFields are the JSON fields of a command; config steps may use no
// other.
var commandFields = map[string]bool{
	"op": true, "key": true, "mods": true, "text": true, "x": true, "y": true,
	"rel": true, "button": true, "count": true, "dx": true, "dy": true, "action": true,
}

// decodeCommand parses and validates a command from a cmd topic. The
// returned command carries the id whenever one could be read, so even a
// refused command can be answered with its id. Unknown fields are ignored:
// the contract lets fields be added.
func decodeCommand(b []byte) (command, *cmdError) {
	if len(b) > wire.MaxCommandSize {
		return command{}, errf(wire.CodeTooLarge, "command is %d bytes, the limit is %d", len(b), wire.MaxCommandSize)
	}
	// JSON is UTF-8; encoding/json would quietly turn bad bytes into
	// U+FFFD, and text.type would type them.
	if !utf8.Valid(b) {
		return command{ID: peekID(b)}, errf(wire.CodeBadRequest, "command is not valid UTF-8")
	}
	if loneSurrogate(b) {
		return command{ID: peekID(b)}, errf(wire.CodeBadRequest, "command has a \\u escape of half a surrogate pair")
	}
	var raw rawCommand
	if err := strictUnmarshal(b, &raw); err != nil {
		return command{ID: peekID(b)}, errf(wire.CodeBadRequest, "decoding command: %s", jsonProblem(err))
	}
	var c command
	if raw.ID == nil || *raw.ID == "" {
		return c, errf(wire.CodeBadRequest, "missing id")
	}
	c.ID = *raw.ID
	if len(c.ID) > maxIDLen {
		c.ID = ""
		return c, errf(wire.CodeBadRequest, "id is longer than %d bytes", maxIDLen)
	}
	if err := validateCommand(&raw, &c); err != nil {
		return c, err
	}
	return c, nil
}

// loneSurrogate reports whether the JSON text b has a \uD800-\uDFFF
// escape that is not half of a pair: encoding/json would decode it as
// U+FFFD, which text.type would then type.
func loneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		var r rune
		for _, c := range b[i+2 : i+6] {
			switch {
			case '0' <= c && c <= '9':
				r = r<<4 | rune(c-'0')
			case 'a' <= c && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case 'A' <= c && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString:
			r, ok := hex4(i)
			if !ok {
				i++ // an escaped character, maybe a quote or a backslash
				continue
			}
			switch {
			case 0xDC00 <= r && r <= 0xDFFF:
				return true
			case 0xD800 <= r && r <= 0xDBFF:
				lo, ok := hex4(i + 6)
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
			i += 5
		}
	}
	return false
}

// strictUnmarshal decodes one JSON object and nothing after it.
func strictUnmarshal(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("data after the JSON object")
	}
	return nil
}

// jsonProblem turns a decoding error into a short message that does not
// echo the payload.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q has the wrong type (%s)", te.Field, te.Value)
		}
		return fmt.Sprintf("wrong JSON type (%s)", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

// peekID returns the command's id if the payload is an object whose id is a
// short string, so a malformed command still gets an answer it can match.
func peekID(b []byte) string {
	var p struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.ID) == 0 {
		return ""
	}
	var id string
	if json.Unmarshal(p.ID, &id) != nil || len(id) > maxIDLen {
		return ""
	}
	return id
}

// validateCommand fills c from raw, checking every field the op uses.
func validateCommand(raw *rawCommand, c *command) *cmdError {
	if raw.Op == nil || *raw.Op == "" {
		return errf(wire.CodeBadRequest, "missing op")
	}
	c.Op = *raw.Op
	if raw.TS != nil {
		ts := *raw.TS
		if ts < 0 || ts > math.MaxInt64/2 || ts != math.Trunc(ts) {
			return errf(wire.CodeBadRequest, "ts must be Unix milliseconds")
		}
		c.TS = int64(ts)
	}
	switch c.Op {
	case wire.OpKeyTap, wire.OpKeyDown, wire.OpKeyUp:
		if raw.Key == nil || *raw.Key == "" {
			return errf(wire.CodeBadRequest, "%s needs a key", c.Op)
		}
		name := *raw.Key
		if len(name) > maxKeyName {
			return errf(wire.CodeUnknownKey, "unknown key")
		}
		k, ok := keys.Lookup(name)
		if !ok {
			return errf(wire.CodeUnknownKey, "unknown key %q", name)
		}
		c.Key = k.Name
		if c.Op == wire.OpKeyTap && len(raw.Mods) > 0 {
			if len(raw.Mods) > 8 {
				return errf(wire.CodeBadRequest, "too many mods")
			}
			mods, err := keys.ParseMods(raw.Mods)
			if err != nil {
				return errf(wire.CodeUnknownKey, "parsing mods: %v", err)
			}
			c.Mods = mods
		}
	case wire.OpTextType:
		if raw.Text == nil {
			return errf(wire.CodeBadRequest, "text.type needs text")
		}
		if err := checkText(*raw.Text); err != nil {
			return err
		}
		c.Text = *raw.Text
	case wire.OpMouseMove:
		if raw.X == nil || raw.Y == nil {
			return errf(wire.CodeBadRequest, "mouse.move needs x and y")
		}
		var err *cmdError
		if c.X, err = intField("x", *raw.X, maxCoord); err != nil {
			return err
		}
		if c.Y, err = intField("y", *raw.Y, maxCoord); err != nil {
			return err
		}
		if raw.Rel != nil {
			c.Rel = *raw.Rel
		}
		if !c.Rel && (c.X < 0 || c.Y < 0) {
			return errf(wire.CodeBadRequest, "an absolute move needs x and y of at least 0")
		}
	case wire.OpMouseClick, wire.OpMouseDown, wire.OpMouseUp:
		b, err := parseButton(raw.Button)
		if err != nil {
			return err
		}
		c.Button = b
		if c.Op == wire.OpMouseClick {
			c.Count = 1
			if raw.Count != nil {
				n := *raw.Count
				if n != math.Trunc(n) || n < 1 || n > 3 {
					return errf(wire.CodeBadRequest, "count must be 1, 2 or 3")
				}
				c.Count = int(n)
			}
		}
	case wire.OpMouseScroll:
		if raw.DX == nil && raw.DY == nil {
			return errf(wire.CodeBadRequest, "mouse.scroll needs dx or dy")
		}
		var err *cmdError
		if raw.DX != nil {
			if c.DX, err = intField("dx", *raw.DX, maxScroll); err != nil {
				return err
			}
		}
		if raw.DY != nil {
			if c.DY, err = intField("dy", *raw.DY, maxScroll); err != nil {
				return err
			}
		}
	case wire.OpActionRun, wire.OpActionCancel:
		if raw.Action == nil || *raw.Action == "" {
			return errf(wire.CodeBadRequest, "%s needs an action", c.Op)
		}
		if !wire.ValidActionID(*raw.Action) {
			return errf(wire.CodeUnknownAction, "unknown action")
		}
		c.Action = *raw.Action
	case wire.OpReleaseAll:
	default:
		op := c.Op
		if len(op) > 32 {
			op = op[:32] + "..."
		}
		return errf(wire.CodeUnknownOp, "unknown op %q", op)
	}
	return nil
}

// checkText enforces the text rules: at most wire.MaxTextRunes characters,
// no control characters but newline and tab.
func checkText(s string) *cmdError {
	if s == "" {
		return errf(wire.CodeBadRequest, "text is empty")
	}
	n := 0
	for _, r := range s {
		n++
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) {
			return errf(wire.CodeBadRequest, "text holds control character U+%04X at character %d", r, n)
		}
	}
	if n > wire.MaxTextRunes {
		return errf(wire.CodeTooLarge, "text is %d characters, the limit is %d", n, wire.MaxTextRunes)
	}
	return nil
}

// intField rounds a JSON number to an int and checks |v| <= limit.
func intField(name string, v float64, limit int) (int, *cmdError) {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > float64(limit) {
		return 0, errf(wire.CodeBadRequest, "%s is out of range (at most %d)", name, limit)
	}
	return int(math.Round(v)), nil
}

func parseButton(s *string) (input.Button, *cmdError) {
	if s == nil || *s == "" {
		return input.ButtonLeft, nil
	}
	switch strings.ToLower(*s) {
	case "left":
		return input.ButtonLeft, nil
	case "right":
		return input.ButtonRight, nil
	case "middle":
		return input.ButtonMiddle, nil
	}
	return 0, errf(wire.CodeBadRequest, "button must be left, right or middle")
}

// pressPayload reads the body of a press/{action} message: empty, "PRESS"
// (what Home Assistant's button sends) or a JSON object with optional "id"
// and "ts".
func pressPayload(b []byte) (id string, ts int64, err *cmdError) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || strings.EqualFold(string(t), "PRESS") {
		return "", 0, nil
	}
	if len(b) > wire.MaxCommandSize {
		return "", 0, errf(wire.CodeTooLarge, "payload is %d bytes, the limit is %d", len(b), wire.MaxCommandSize)
	}
	var p struct {
		ID *string  `json:"id"`
		TS *float64 `json:"ts"`
	}
	if e := strictUnmarshal(t, &p); e != nil {
		return peekID(t), 0, errf(wire.CodeBadRequest, "a press payload is empty, PRESS or a JSON object: %s", jsonProblem(e))
	}
	if p.ID != nil {
		if len(*p.ID) > maxIDLen {
			return "", 0, errf(wire.CodeBadRequest, "id is longer than %d bytes", maxIDLen)
		}
		id = *p.ID
	}
	if p.TS != nil {
		v := *p.TS
		if v < 0 || v > math.MaxInt64/2 || v != math.Trunc(v) {
			return id, 0, errf(wire.CodeBadRequest, "ts must be Unix milliseconds")
		}
		ts = int64(v)
	}
	return id, ts, nil
}
