//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || loong64 || s390x)

package uinput

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// requireGCC returns gcc's path. Without it the test is skipped with the
// install line; with CI=true it fails, because CI installs gcc.
func requireGCC(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		msg := "missing gcc and the kernel headers; install with: sudo apt-get install -y gcc linux-libc-dev"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return gcc
}

// kernelABI compiles and runs a C program against the system's kernel
// headers that prints, one "name value" a line, the sizes and offsets of
// the uinput structs, the ioctl numbers, every constant of evdev, and the
// bytes of a uinput_setup and an input_event it fills.
func kernelABI(t *testing.T) map[string]string {
	t.Helper()
	gcc := requireGCC(t)
	var c strings.Builder
	c.WriteString(`#include <linux/uinput.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void dump(const char *name, const void *p, size_t n) {
	printf("%s ", name);
	for (size_t i = 0; i < n; i++) printf("%02x", ((const unsigned char *)p)[i]);
	printf("\n");
}

int main(void) {
	printf("sizeof_uinput_setup %zu\n", sizeof(struct uinput_setup));
	printf("offsetof_uinput_setup_id %zu\n", offsetof(struct uinput_setup, id));
	printf("offsetof_uinput_setup_name %zu\n", offsetof(struct uinput_setup, name));
	printf("offsetof_uinput_setup_ff_effects_max %zu\n", offsetof(struct uinput_setup, ff_effects_max));
	printf("sizeof_input_id %zu\n", sizeof(struct input_id));
	printf("UINPUT_MAX_NAME_SIZE %d\n", UINPUT_MAX_NAME_SIZE);
	printf("sizeof_input_event %zu\n", sizeof(struct input_event));
	printf("offsetof_input_event_type %zu\n", offsetof(struct input_event, type));
	printf("offsetof_input_event_code %zu\n", offsetof(struct input_event, code));
	printf("offsetof_input_event_value %zu\n", offsetof(struct input_event, value));
	printf("UI_DEV_CREATE %lu\n", (unsigned long)UI_DEV_CREATE);
	printf("UI_DEV_DESTROY %lu\n", (unsigned long)UI_DEV_DESTROY);
	printf("UI_DEV_SETUP %lu\n", (unsigned long)UI_DEV_SETUP);
	printf("UI_SET_EVBIT %lu\n", (unsigned long)UI_SET_EVBIT);
	printf("UI_SET_KEYBIT %lu\n", (unsigned long)UI_SET_KEYBIT);
	printf("UI_SET_RELBIT %lu\n", (unsigned long)UI_SET_RELBIT);

	struct uinput_setup s;
	memset(&s, 0, sizeof s);
	s.id.bustype = 0x0102; s.id.vendor = 0x0304; s.id.product = 0x0506; s.id.version = 0x0708;
	strcpy(s.name, "abc");
	s.ff_effects_max = 0x0a0b0c0d;
	dump("bytes_uinput_setup", &s, sizeof s);

	struct input_event e;
	memset(&e, 0, sizeof e);
	e.type = 0x0102; e.code = 0x0304; e.value = -2;
	dump("bytes_input_event", &e, sizeof e);
`)
	names := make([]string, 0, len(evdev))
	for n := range evdev {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&c, "\tprintf(\"%s %%lu\\n\", (unsigned long)%s);\n", n, n)
	}
	c.WriteString("\treturn 0;\n}\n")

	dir := t.TempDir()
	src, bin := filepath.Join(dir, "abi.c"), filepath.Join(dir, "abi")
	if err := os.WriteFile(src, []byte(c.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-Wall", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling against the kernel headers: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the ABI program: %v", err)
	}
	abi := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		abi[k] = v
	}
	return abi
}

// TestKernelABI checks the structs, ioctl numbers and constants this
// backend writes against the system's kernel headers, compiled by gcc.
func TestKernelABI(t *testing.T) {
	abi := kernelABI(t)
	num := func(k string) uint64 {
		t.Helper()
		v, err := strconv.ParseUint(abi[k], 10, 64)
		if err != nil {
			t.Fatalf("the ABI program printed no %s (%q)", k, abi[k])
		}
		return v
	}

	for _, c := range []struct {
		name string
		got  uint64
	}{
		{"sizeof_uinput_setup", sizeofSetup},
		{"offsetof_uinput_setup_id", 0},
		{"offsetof_uinput_setup_name", sizeofInput},
		{"offsetof_uinput_setup_ff_effects_max", sizeofInput + maxNameBytes},
		{"sizeof_input_id", sizeofInput},
		{"UINPUT_MAX_NAME_SIZE", maxNameBytes},
		{"sizeof_input_event", sizeofEvent},
		{"offsetof_input_event_type", 2 * wordBytes},
		{"offsetof_input_event_code", 2*wordBytes + 2},
		{"offsetof_input_event_value", 2*wordBytes + 4},
		{"UI_DEV_CREATE", uint64(uiDevCreate)},
		{"UI_DEV_DESTROY", uint64(uiDevDestroy)},
		{"UI_DEV_SETUP", uint64(uiDevSetup)},
		{"UI_SET_EVBIT", uint64(uiSetEvBit)},
		{"UI_SET_KEYBIT", uint64(uiSetKeyBit)},
		{"UI_SET_RELBIT", uint64(uiSetRelBit)},
	} {
		if want := num(c.name); c.got != want {
			t.Errorf("%s: Go has %d (%#x), the kernel headers %d (%#x)", c.name, c.got, c.got, want, want)
		}
	}
	// The values linux/uinput.h documents on x86-64, as a check on the
	// check: the C program above must agree with them too.
	if wordBytes == 8 {
		for name, want := range map[string]uint64{"UI_DEV_CREATE": 0x5501, "UI_DEV_DESTROY": 0x5502, "UI_DEV_SETUP": 0x405c5503, "UI_SET_EVBIT": 0x40045564, "sizeof_input_event": 24, "sizeof_uinput_setup": 92} {
			if got := num(name); got != want {
				t.Errorf("the headers give %s = %#x, want %#x", name, got, want)
			}
		}
	}
	for name, v := range evdev {
		if want := num(name); uint64(v) != want {
			t.Errorf("%s: Go has %d, the kernel headers %d", name, v, want)
		}
	}

	setup, err := encodeSetup(deviceID{0x0102, 0x0304, 0x0506, 0x0708}, "abc", 0x0a0b0c0d)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(setup), abi["bytes_uinput_setup"]; got != want {
		t.Errorf("struct uinput_setup bytes:\n Go  %s\n gcc %s", got, want)
	}
	if got, want := hex.EncodeToString(appendEvent(nil, 0x0102, 0x0304, -2)), abi["bytes_input_event"]; got != want {
		t.Errorf("struct input_event bytes:\n Go  %s\n gcc %s", got, want)
	}
}
