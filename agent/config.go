package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/openmfd/mfd/internal/wire"
)

// Limits on a host config, so that a typo cannot make an action run for
// minutes.
const (
	maxSteps     = 100
	maxSleepStep = 60 * time.Second
)

// Config is a host's own configuration: its actions and options. It comes
// from the host config file only, never from the network, which is why
// only it may hold exec steps. The zero value has no actions.
type Config struct {
	// Actions are the host's actions, in the order panels show them.
	Actions []Action
	// Pages lay the actions out on the panel; nil means one page of every
	// action.
	Pages []Page
	// AllowedOrigins are extra web origins the server accepts besides its
	// own (for `mfd serve`; the agent does not read them).
	AllowedOrigins []string
	// HomeAssistant configures MQTT discovery.
	HomeAssistant HAConfig
}

// HAConfig configures Home Assistant MQTT discovery. The zero value
// publishes discovery under the prefix "homeassistant".
type HAConfig struct {
	// Disabled turns discovery off.
	Disabled bool
	// Prefix is the discovery prefix; "" means "homeassistant".
	Prefix string
}

// Page is a named, ordered page of buttons (action ids).
type Page struct {
	Name    string
	Buttons []string
}

// Action is one of the host's actions: a list of steps run in order.
type Action struct {
	ID    string
	Label string
	// Icon is drawn by the panel: "mdi:NAME" names a Material Design Icon.
	Icon string
	// Color is the button's colour, "#rgb" or "#rrggbb"; "" is the theme's.
	Color string
	Steps []Step
	// Overlap lets a second run start while one is running; by default a
	// run.action of a running action is answered busy.
	Overlap bool
	// State, when set, makes the action a toggle that shows host state.
	State *StateProbe
}

// StateProbe finds whether a toggle action is on: Exec exits 0 for on.
// It runs every Every, and again right after each press.
type StateProbe struct {
	Exec  []string
	Every time.Duration
}

// Limits on a state probe: often enough to feel live, rarely enough not
// to load the host, and a probe that hangs is killed.
const (
	defaultProbeEvery = 5 * time.Second
	minProbeEvery     = 500 * time.Millisecond
	maxProbeEvery     = 24 * time.Hour
	probeTimeout      = 5 * time.Second
	maxPages          = 50
	maxPageName       = 32
)

// Step is one step of an action: exactly one of a command, a sleep or an
// exec.
type Step struct {
	// Op is the command's op, "" for a sleep or exec step.
	Op  string
	cmd command
	// Sleep pauses the action.
	Sleep time.Duration
	// Exec starts a program with this argv, directly (no shell). Without
	// Wait the action does not wait for it, and the program outlives a
	// cancel: it is the user's now (a terminal, say).
	Exec []string
	// Wait makes the action wait for the program to exit (at most
	// maxSleepStep); a non-zero exit fails the action, and a cancel kills
	// the program and its children.
	Wait bool
}

// action returns the action with the given id.
func (c *Config) action(id string) (*Action, bool) {
	if c == nil {
		return nil, false
	}
	for i := range c.Actions {
		if c.Actions[i].ID == id {
			return &c.Actions[i], true
		}
	}
	return nil, false
}

// LoadConfig reads and checks a host config file (YAML). Every problem is
// reported at load time, naming the line, the action and step, so that a
// bad config never surfaces as a failed press later.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("loading config %s: %w", path, err)
	}
	return c, nil
}

// The fields each mapping of the config may have. A field outside these is
// an error with a "did you mean" hint: a typo such as `action:` for
// `actions:` must not be silently ignored.
var (
	topFields    = []string{"actions", "pages", "allowed_origins", "homeassistant"}
	haFields     = []string{"disabled", "enabled", "prefix"}
	actionFields = []string{"id", "label", "icon", "color", "steps", "overlap", "state"}
	stateFields  = []string{"exec", "every"}
	execFields   = []string{"exec", "wait"}
	pageFields   = []string{"name", "buttons"}
)

// unknownField is the error for field k of a mapping that allows known.
func unknownField(k *yaml.Node, known []string) error {
	msg := fmt.Sprintf("line %d: unknown field %q", k.Line, k.Value)
	if s := suggest(k.Value, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return errors.New(msg)
}

// suggest returns the known word closest to w, or "" if none is close
// enough to be the word meant.
func suggest(w string, known []string) string {
	best, bestD := "", 0
	for _, k := range known {
		d := editDistance(strings.ToLower(w), k)
		if best == "" || d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || bestD > max(2, len(best)/3) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b, in
// bytes: Levenshtein with a swap of two neighbours counted as one edit,
// the commonest typo.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// ParseConfig parses a host config from YAML. Every field must be known;
// errors name the line.
func ParseConfig(b []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	c := &Config{}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: the config must be a mapping", root.Line)
	}
	var pages *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "actions":
			if err := c.parseActions(v); err != nil {
				return nil, err
			}
		case "pages":
			pages = v
		case "allowed_origins":
			if err := v.Decode(&c.AllowedOrigins); err != nil {
				return nil, fmt.Errorf("line %d: allowed_origins: %w", v.Line, err)
			}
		case "homeassistant":
			if err := c.parseHA(v); err != nil {
				return nil, err
			}
		default:
			return nil, unknownField(k, topFields)
		}
	}
	if pages != nil {
		if err := c.parsePages(pages); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Config) parseHA(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: homeassistant must be a mapping", v.Line)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "disabled", "enabled":
			var on bool
			if err := val.Decode(&on); err != nil {
				return fmt.Errorf("line %d: homeassistant %s must be true or false", val.Line, k.Value)
			}
			c.HomeAssistant.Disabled = on == (k.Value == "disabled")
		case "prefix":
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: homeassistant prefix must be a string", val.Line)
			}
			p := val.Value
			if p != "" && (strings.ContainsAny(p, "+#") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/")) {
				return fmt.Errorf("line %d: homeassistant prefix %q is not a topic prefix", val.Line, p)
			}
			c.HomeAssistant.Prefix = p
		default:
			return fmt.Errorf("homeassistant: %w", unknownField(k, haFields))
		}
	}
	return nil
}

func (c *Config) parsePages(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: pages must be a list", n.Line)
	}
	if len(n.Content) > maxPages {
		return fmt.Errorf("line %d: %d pages, the limit is %d", n.Line, len(n.Content), maxPages)
	}
	for i, pn := range n.Content {
		p, err := c.parsePage(pn)
		if err != nil {
			return fmt.Errorf("page %d (line %d): %w", i+1, pn.Line, err)
		}
		c.Pages = append(c.Pages, p)
	}
	return nil
}

func (c *Config) parsePage(n *yaml.Node) (Page, error) {
	var p Page
	if n.Kind != yaml.MappingNode {
		return p, errors.New("a page must be a mapping with name and buttons")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || v.Value == "" || utf8.RuneCountInString(v.Value) > maxPageName {
				return p, fmt.Errorf("line %d: name must be 1 to %d characters", v.Line, maxPageName)
			}
			p.Name = v.Value
		case "buttons":
			if v.Kind != yaml.SequenceNode {
				return p, fmt.Errorf("line %d: buttons must be a list of action ids", v.Line)
			}
			for _, b := range v.Content {
				if b.Kind != yaml.ScalarNode {
					return p, fmt.Errorf("line %d: buttons must be a list of action ids", b.Line)
				}
				if _, ok := c.action(b.Value); !ok {
					ids := make([]string, len(c.Actions))
					for i, a := range c.Actions {
						ids[i] = a.ID
					}
					msg := fmt.Sprintf("line %d: no action has the id %q", b.Line, b.Value)
					if s := suggest(b.Value, ids); s != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", s)
					}
					return p, errors.New(msg)
				}
				p.Buttons = append(p.Buttons, b.Value)
			}
		default:
			return p, unknownField(k, pageFields)
		}
	}
	if p.Name == "" {
		return p, errors.New("missing name")
	}
	return p, nil
}

func (c *Config) parseActions(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: actions must be a list", n.Line)
	}
	seen := map[string]bool{}
	for i, an := range n.Content {
		a, err := parseAction(an)
		if err != nil {
			name := fmt.Sprintf("action %d", i+1)
			if a.ID != "" {
				name = fmt.Sprintf("action %q", a.ID)
			}
			return fmt.Errorf("%s (line %d): %w", name, an.Line, err)
		}
		if seen[a.ID] {
			return fmt.Errorf("action %q (line %d): the id is used twice", a.ID, an.Line)
		}
		seen[a.ID] = true
		c.Actions = append(c.Actions, a)
	}
	return nil
}

// validColor reports whether s is "#rgb" or "#rrggbb".
func validColor(s string) bool {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, r := range s[1:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// validIcon reports whether s may be sent as an icon: "mdi:" and a
// Material Design Icons name, or (as configs before pages had) any short
// text without markup, which the panel does not draw.
func validIcon(s string) bool {
	if name, ok := strings.CutPrefix(s, "mdi:"); ok {
		if name == "" || len(name) > 64 {
			return false
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
		return true
	}
	return utf8.RuneCountInString(s) <= 64 && !strings.ContainsAny(s, "<>")
}

func parseAction(n *yaml.Node) (Action, error) {
	var a Action
	if n.Kind != yaml.MappingNode {
		return a, errors.New("an action must be a mapping with id, label and steps")
	}
	var steps, state *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id", "label", "icon", "color":
			if v.Kind != yaml.ScalarNode {
				return a, fmt.Errorf("line %d: %s must be a string", v.Line, k.Value)
			}
			switch k.Value {
			case "id":
				a.ID = v.Value
			case "label":
				a.Label = v.Value
			case "icon":
				if !validIcon(v.Value) {
					return a, fmt.Errorf("line %d: icon %q is not mdi:NAME (a Material Design Icons name such as mdi:microphone-off)", v.Line, v.Value)
				}
				a.Icon = v.Value
			case "color":
				if !validColor(v.Value) {
					return a, fmt.Errorf("line %d: color %q is not #rgb or #rrggbb (quote it: \"#c62828\")", v.Line, v.Value)
				}
				a.Color = v.Value
			}
		case "steps":
			steps = v
		case "overlap":
			if err := v.Decode(&a.Overlap); err != nil {
				return a, fmt.Errorf("line %d: overlap must be true or false", v.Line)
			}
		case "state":
			state = v
		default:
			return a, unknownField(k, actionFields)
		}
	}
	if a.ID == "" {
		return a, errors.New("missing id")
	}
	if !wire.ValidActionID(a.ID) {
		return a, fmt.Errorf("id %q must be 1 to 64 characters of a-z, A-Z, 0-9, - and _", a.ID)
	}
	if a.Label == "" {
		a.Label = a.ID
	}
	if steps == nil || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
		return a, errors.New("steps must be a non-empty list")
	}
	if len(steps.Content) > maxSteps {
		return a, fmt.Errorf("%d steps, the limit is %d", len(steps.Content), maxSteps)
	}
	for i, sn := range steps.Content {
		s, err := parseStep(sn)
		if err != nil {
			return a, fmt.Errorf("step %d (line %d): %w", i+1, sn.Line, err)
		}
		a.Steps = append(a.Steps, s)
	}
	if state != nil {
		p, err := parseProbe(state)
		if err != nil {
			return a, fmt.Errorf("state (line %d): %w", state.Line, err)
		}
		a.State = p
	}
	return a, nil
}

func parseProbe(n *yaml.Node) (*StateProbe, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("state must be a mapping: {exec: [program, args...], every: 2s}")
	}
	p := &StateProbe{Every: defaultProbeEvery}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "exec":
			if err := v.Decode(&p.Exec); err != nil || len(p.Exec) == 0 || p.Exec[0] == "" {
				return nil, fmt.Errorf("line %d: exec must be a non-empty list: [program, args...]", v.Line)
			}
		case "every":
			d, err := time.ParseDuration(v.Value)
			if err != nil || v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: every: %q is not a duration such as 2s", v.Line, v.Value)
			}
			if d < minProbeEvery || d > maxProbeEvery {
				return nil, fmt.Errorf("line %d: every: %v is outside %v to %v", v.Line, d, minProbeEvery, maxProbeEvery)
			}
			p.Every = d
		default:
			return nil, unknownField(k, stateFields)
		}
	}
	if len(p.Exec) == 0 {
		return nil, errors.New("missing exec (the program whose exit status 0 means on)")
	}
	return p, nil
}

// stringFields are the command fields that are strings even when YAML
// would read them as numbers or booleans (key: 1, text: yes).
var stringFields = map[string]bool{"op": true, "key": true, "text": true, "button": true, "action": true}

func parseStep(n *yaml.Node) (Step, error) {
	var s Step
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		return s, errors.New("a step must be a mapping: {op: ...}, {sleep: ...} or {exec: [...]}")
	}
	keys := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys[n.Content[i].Value] = n.Content[i+1]
	}
	switch {
	case keys["sleep"] != nil:
		if len(keys) != 1 {
			return s, errors.New("a sleep step has no other fields")
		}
		d, err := time.ParseDuration(keys["sleep"].Value)
		if err != nil {
			return s, fmt.Errorf("sleep: %q is not a duration such as 100ms", keys["sleep"].Value)
		}
		if d < 0 || d > maxSleepStep {
			return s, fmt.Errorf("sleep: %v is outside 0 to %v", d, maxSleepStep)
		}
		s.Sleep = d
	case keys["exec"] != nil:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Value != "exec" && k.Value != "wait" {
				return s, unknownField(k, execFields)
			}
		}
		var argv []string
		if err := keys["exec"].Decode(&argv); err != nil || len(argv) == 0 || argv[0] == "" {
			return s, errors.New("exec must be a non-empty list: [program, args...]")
		}
		s.Exec = argv
		if w := keys["wait"]; w != nil {
			if err := w.Decode(&s.Wait); err != nil {
				return s, errors.New("wait must be true or false")
			}
		}
	case keys["op"] != nil:
		obj := map[string]any{}
		for k, v := range keys {
			if !commandFields[k] {
				return s, unknownStepField(n, k)
			}
			if stringFields[k] && v.Kind == yaml.ScalarNode {
				obj[k] = v.Value
				continue
			}
			var x any
			if err := v.Decode(&x); err != nil {
				return s, fmt.Errorf("%s: %w", k, err)
			}
			obj[k] = x
		}
		obj["id"] = "config"
		b, err := json.Marshal(obj)
		if err != nil {
			return s, fmt.Errorf("encoding step: %w", err)
		}
		c, cerr := decodeCommand(b)
		if cerr != nil {
			return s, fmt.Errorf("%s", cerr.msg)
		}
		if c.Op == wire.OpActionRun || c.Op == wire.OpActionCancel {
			return s, errors.New("an action cannot run or cancel an action")
		}
		s.Op, s.cmd = c.Op, c
	default:
		return s, errors.New("a step needs op, sleep or exec")
	}
	return s, nil
}

// unknownStepField is the error for field k of step n.
func unknownStepField(n *yaml.Node, k string) error {
	known := make([]string, 0, len(commandFields))
	for f := range commandFields {
		if f != "id" && f != "ts" {
			known = append(known, f)
		}
	}
	slices.Sort(known)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return unknownField(n.Content[i], known)
		}
	}
	return fmt.Errorf("unknown field %q", k)
}

// wireActions is the retained actions payload for c.
func (c *Config) wireActions() wire.Actions {
	out := wire.Actions{Actions: []wire.Action{}}
	if c == nil {
		return out
	}
	for _, a := range c.Actions {
		out.Actions = append(out.Actions, wire.Action{ID: a.ID, Label: a.Label, Icon: a.Icon, Color: a.Color, Toggle: a.State != nil})
	}
	for _, p := range c.Pages {
		out.Pages = append(out.Pages, wire.Page{Name: p.Name, Buttons: append([]string{}, p.Buttons...)})
	}
	return out
}
