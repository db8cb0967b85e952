package keys

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTopicsMdListsEveryKey keeps the key table in topics.md, the reference
// users read, the same as the one the agent accepts.
func TestTopicsMdListsEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../topics.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- keys:begin -->\n```text\n(.*?)```\n<!-- keys:end -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("topics.md has no key list between the keys:begin and keys:end markers")
	}
	documented := strings.Fields(string(m[1]))
	want := Names()
	if !slices.Equal(documented, want) {
		t.Errorf("topics.md lists %d keys, the agent accepts %d; topics.md should hold:\n%s",
			len(documented), len(want), wrapNames(want))
	}
}

// wrapNames lays names out 16 a line, as topics.md holds them.
func wrapNames(names []string) string {
	var b strings.Builder
	for i, n := range names {
		b.WriteString(n)
		if i%16 == 15 || i == len(names)-1 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}
