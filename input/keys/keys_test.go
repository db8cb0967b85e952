package keys

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		want Key
	}{
		{"a", Key{"a", 0x61}},
		{"z", Key{"z", 0x7a}},
		{"0", Key{"0", 0x30}},
		{"9", Key{"9", 0x39}},
		{"f1", Key{"f1", 0xffbe}},
		{"f12", Key{"f12", 0xffc9}},
		{"f13", Key{"f13", 0xffca}},
		{"f24", Key{"f24", 0xffd5}},
		{"enter", Key{"enter", 0xff0d}},
		{"esc", Key{"esc", 0xff1b}},
		{"tab", Key{"tab", 0xff09}},
		{"space", Key{"space", 0x20}},
		{"backspace", Key{"backspace", 0xff08}},
		{"delete", Key{"delete", 0xffff}},
		{"insert", Key{"insert", 0xff63}},
		{"home", Key{"home", 0xff50}},
		{"end", Key{"end", 0xff57}},
		{"pageup", Key{"pageup", 0xff55}},
		{"pagedown", Key{"pagedown", 0xff56}},
		{"up", Key{"up", 0xff52}},
		{"down", Key{"down", 0xff54}},
		{"left", Key{"left", 0xff51}},
		{"right", Key{"right", 0xff53}},
		{"capslock", Key{"capslock", 0xffe5}},
		{"printscreen", Key{"printscreen", 0xff61}},
		{"audio_mute", Key{"audio_mute", 0x1008ff12}},
		{"audio_vol_up", Key{"audio_vol_up", 0x1008ff13}},
		{"audio_vol_down", Key{"audio_vol_down", 0x1008ff11}},
		{"audio_play", Key{"audio_play", 0x1008ff14}},
		{"audio_stop", Key{"audio_stop", 0x1008ff15}},
		{"audio_next", Key{"audio_next", 0x1008ff17}},
		{"audio_prev", Key{"audio_prev", 0x1008ff16}},
		{"ctrl", Key{"ctrl", 0xffe3}},
		{"rctrl", Key{"rctrl", 0xffe4}},
		{"shift", Key{"shift", 0xffe1}},
		{"alt", Key{"alt", 0xffe9}},
		{"super", Key{"super", 0xffeb}},
		{"num0", Key{"num0", 0xffb0}},
		{"num_enter", Key{"num_enter", 0xff8d}},
		// Punctuation by its character.
		{"`", Key{"`", 0x60}},
		{"-", Key{"-", 0x2d}},
		{"=", Key{"=", 0x3d}},
		{"[", Key{"[", 0x5b}},
		{"]", Key{"]", 0x5d}},
		{`\`, Key{`\`, 0x5c}},
		{";", Key{";", 0x3b}},
		{"'", Key{"'", 0x27}},
		{",", Key{",", 0x2c}},
		{".", Key{".", 0x2e}},
		{"/", Key{"/", 0x2f}},
		{"!", Key{"!", 0x21}},
		{"@", Key{"@", 0x40}},
		{"#", Key{"#", 0x23}},
		{"$", Key{"$", 0x24}},
		{"%", Key{"%", 0x25}},
		{"^", Key{"^", 0x5e}},
		{"&", Key{"&", 0x26}},
		{"*", Key{"*", 0x2a}},
		{"(", Key{"(", 0x28}},
		{")", Key{")", 0x29}},
		{"_", Key{"_", 0x5f}},
		{"+", Key{"+", 0x2b}},
		{"{", Key{"{", 0x7b}},
		{"}", Key{"}", 0x7d}},
		{"|", Key{"|", 0x7c}},
		{":", Key{":", 0x3a}},
		{`"`, Key{`"`, 0x22}},
		{"<", Key{"<", 0x3c}},
		{">", Key{">", 0x3e}},
		{"?", Key{"?", 0x3f}},
		{"~", Key{"~", 0x7e}},
		// Aliases resolve to the canonical name.
		{"return", Key{"enter", 0xff0d}},
		{"escape", Key{"esc", 0xff1b}},
		{"del", Key{"delete", 0xffff}},
		{"pgup", Key{"pageup", 0xff55}},
		{"cmd", Key{"super", 0xffeb}},
		{"win", Key{"super", 0xffeb}},
		{"meta", Key{"super", 0xffeb}},
		// Longer names ignore case.
		{"Enter", Key{"enter", 0xff0d}},
		{"F5", Key{"f5", 0xffc2}},
		{"AUDIO_MUTE", Key{"audio_mute", 0x1008ff12}},
		{"PgUp", Key{"pageup", 0xff55}},
	}
	for _, tt := range tests {
		got, ok := Lookup(tt.name)
		if !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v, want %+v, true", tt.name, got, ok, tt.want)
		}
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{
		"", "A", "Z", "f0", "F0", "f25", "ctrl+a", " ", "space ",
		"aa", "é", "😀", "\n", "\t", "audio", "audio_volume_up", "num10", "leftctrl",
	} {
		if got, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v, true, want false", name, got)
		}
	}
}

func TestNamesCoverContract(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() is not sorted")
	}
	if len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("Names() has duplicates")
	}
	var want []string
	for c := 'a'; c <= 'z'; c++ {
		want = append(want, string(c))
	}
	for c := '0'; c <= '9'; c++ {
		want = append(want, string(c))
	}
	for n := 1; n <= 24; n++ {
		want = append(want, "f"+strconv.Itoa(n))
	}
	for _, c := range "`-=[]\\;',./!@#$%^&*()_+{}|:\"<>?~" {
		want = append(want, string(c))
	}
	want = append(want, "enter", "esc", "tab", "space", "backspace", "delete",
		"insert", "home", "end", "pageup", "pagedown", "up", "down", "left",
		"right", "capslock", "printscreen", "audio_mute", "audio_vol_up",
		"audio_vol_down", "audio_play", "audio_stop", "audio_next", "audio_prev",
		"ctrl", "shift", "alt", "super")
	for _, name := range want {
		if _, found := slices.BinarySearch(names, name); !found {
			t.Errorf("Names() lacks contract key %q", name)
		}
	}
	for _, name := range names {
		k, ok := Lookup(name)
		if !ok || k.Keysym == 0 {
			t.Errorf("Lookup(%q) = %+v, %v for a name Names() lists", name, k, ok)
		}
		if canon, ok := Lookup(k.Name); !ok || canon != k {
			t.Errorf("Lookup(%q) = %+v, %v; its canonical name %q gives %+v", name, k, ok, k.Name, canon)
		}
	}
	names[0] = "mutated"
	if Names()[0] == "mutated" {
		t.Errorf("Names() returns the package's own slice")
	}
}

func TestParseMods(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"ctrl"}, []string{"ctrl"}},
		{[]string{"ctrl", "shift", "alt", "super"}, []string{"ctrl", "shift", "alt", "super"}},
		{[]string{"shift", "ctrl"}, []string{"shift", "ctrl"}},
		{[]string{"cmd"}, []string{"super"}},
		{[]string{"win"}, []string{"super"}},
		{[]string{"meta"}, []string{"super"}},
		{[]string{"ctrl", "ctrl"}, []string{"ctrl"}},
		{[]string{"super", "cmd", "win", "meta", "alt"}, []string{"super", "alt"}},
	}
	for _, tt := range tests {
		got, err := ParseMods(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseMods(%q) = %q, %v, want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseModsUnknown(t *testing.T) {
	for _, in := range [][]string{
		{"hyper"}, {"Ctrl"}, {""}, {"ctrl", "a"}, {"control"}, {"lctrl"}, {"altgr"},
	} {
		got, err := ParseMods(in)
		if !errors.Is(err, ErrUnknownModifier) {
			t.Errorf("ParseMods(%q) = %q, %v, want an error wrapping ErrUnknownModifier", in, got, err)
		}
	}
}

func TestRuneKeysym(t *testing.T) {
	for _, tt := range []struct {
		r    rune
		want uint32
		ok   bool
	}{
		{'\n', 0xff0d, true}, {'\t', 0xff09, true}, {'a', 0x61, true}, {'é', 0xe9, true},
		{'€', 0x010020ac, true}, {'😀', 0x0101f600, true},
		{'\r', 0, false}, {0x7f, 0, false}, {0x85, 0, false}, {0xd800, 0, false}, {0x110000, 0, false},
	} {
		got, err := RuneKeysym(tt.r)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("RuneKeysym(%U) = %#x, %v; want %#x, ok %v", tt.r, got, err, tt.want, tt.ok)
		}
	}
	if _, err := Find("nosuch"); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf(`Find("nosuch") = %v, want an error naming the key`, err)
	}
}
