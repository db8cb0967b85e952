package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

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

// Action is one of the host's actions: a list of steps run in order.
type Action struct {
	ID    string
	Label string
	Icon  string
	Steps []Step
	// Overlap lets a second run start while one is running; by default a
	// run.action of a running action is answered busy.
	Overlap bool
}

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
// reported at load time, naming the action and step, so that a bad config
// never surfaces as a failed press later.
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

// ParseConfig parses a host config from YAML. Top-level keys it does not
// know are ignored (other parts of mfd may read them); inside an action
// every key must be known.
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
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "actions":
			if err := c.parseActions(v); err != nil {
				return nil, err
			}
		case "allowed_origins":
			if err := v.Decode(&c.AllowedOrigins); err != nil {
				return nil, fmt.Errorf("line %d: allowed_origins: %w", v.Line, err)
			}
		case "homeassistant":
			var ha struct {
				Disabled *bool  `yaml:"disabled"`
				Enabled  *bool  `yaml:"enabled"`
				Prefix   string `yaml:"prefix"`
			}
			if err := v.Decode(&ha); err != nil {
				return nil, fmt.Errorf("line %d: homeassistant: %w", v.Line, err)
			}
			c.HomeAssistant.Prefix = ha.Prefix
			if ha.Disabled != nil {
				c.HomeAssistant.Disabled = *ha.Disabled
			}
			if ha.Enabled != nil {
				c.HomeAssistant.Disabled = !*ha.Enabled
			}
			if p := c.HomeAssistant.Prefix; p != "" && (strings.ContainsAny(p, "+#") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/")) {
				return nil, fmt.Errorf("line %d: homeassistant prefix %q is not a topic prefix", v.Line, p)
			}
		}
	}
	return c, nil
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

func parseAction(n *yaml.Node) (Action, error) {
	var a Action
	if n.Kind != yaml.MappingNode {
		return a, errors.New("an action must be a mapping with id, label and steps")
	}
	var steps *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "id", "label", "icon":
			if v.Kind != yaml.ScalarNode {
				return a, fmt.Errorf("%s must be a string", k.Value)
			}
			switch k.Value {
			case "id":
				a.ID = v.Value
			case "label":
				a.Label = v.Value
			case "icon":
				a.Icon = v.Value
			}
		case "steps":
			steps = v
		case "overlap":
			if err := v.Decode(&a.Overlap); err != nil {
				return a, errors.New("overlap must be true or false")
			}
		default:
			return a, fmt.Errorf("unknown field %q", k.Value)
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
	return a, nil
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
		for k := range keys {
			if k != "exec" && k != "wait" {
				return s, fmt.Errorf("an exec step has no field %q (only wait)", k)
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
				return s, fmt.Errorf("unknown field %q", k)
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

// wireActions is the retained actions payload for c.
func (c *Config) wireActions() wire.Actions {
	out := wire.Actions{Actions: []wire.Action{}}
	if c == nil {
		return out
	}
	for _, a := range c.Actions {
		out.Actions = append(out.Actions, wire.Action{ID: a.ID, Label: a.Label, Icon: a.Icon})
	}
	return out
}
