package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmfd/mfd/internal/mosqtest"
	"github.com/openmfd/mfd/internal/xtest"
)

// startMosquitto runs a private Mosquitto on a free loopback port with
// anonymous access off and a password file made by mosquitto_passwd; it
// returns the port. The test uses mosquitto_pub and mosquitto_sub too.
func startMosquitto(t *testing.T, users map[string]string) int {
	t.Helper()
	mosqtest.RequireClients(t)
	return mosqtest.Run(t, mosqtest.Options{Users: users}).Port
}

// TestAgentThroughMosquitto is issue 3's third acceptance, second half:
// the same agent binary serves commands through a real Mosquitto with
// password auth. mosquitto_pub sends, xev reads the keys back and
// mosquitto_sub reads the replies.
func TestAgentThroughMosquitto(t *testing.T) {
	const agentUser, agentPass = "mfd-agent", "agent secret"
	const user, pass = "tester", "tester secret"
	port := startMosquitto(t, map[string]string{agentUser: agentPass, user: pass})
	display := xtest.StartXvfb(t)
	xev := xtest.StartXev(t, display)
	before := xtest.Keymap(t, display)

	// Password auth is on: a wrong password is refused.
	mqttArgs := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port), "-V", "mqttv5", "-u", user, "-P", pass}
	if out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-u", user, "-P", "wrong",
		"-t", "x", "-m", "x").CombinedOutput(); err == nil {
		t.Fatalf("mosquitto_pub with a wrong password succeeded: %s", out)
	}

	ag := startProc(t, []string{"DISPLAY=" + display}, mfdBin, "agent",
		"--broker", fmt.Sprintf("mqtt://127.0.0.1:%d", port), "--username", agentUser, "--password", agentPass,
		"--state-dir", t.TempDir(), "--name", "mosquitto host")
	host := ag.waitOutput(`agent for host ([0-9a-f-]{36}) running \(input: x11\)`, 15*time.Second)[1]

	// The agent's retained status, read back through Mosquitto.
	statusTopic := "mfd/v1/hosts/" + host + "/status"
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		out, err := exec.Command("mosquitto_sub", append(mqttArgs, "-t", statusTopic, "-C", "1", "-W", "2")...).Output()
		if err != nil {
			return fmt.Errorf("mosquitto_sub %s: %v", statusTopic, err)
		}
		var st hostStatus
		if err := json.Unmarshal(out, &st); err != nil {
			return fmt.Errorf("status %q: %v", out, err)
		}
		if st.Host != host || !onlineX11(st) || st.Name != "mosquitto host" {
			return fmt.Errorf("status %v, want host %s online with x11", st, host)
		}
		return nil
	})

	// mosquitto_sub prints "Subscribed" once it is (with -d); only then is
	// a reply sure to reach it. Its stdio buffers a pipe: stdbuf makes
	// each line arrive at once.
	sub := startProc(t, nil, "stdbuf", append([]string{"-oL", "mosquitto_sub"}, append(mqttArgs, "-d",
		"-t", "mfd/v1/clients/"+user+"/reply/#", // matches .../reply too
		"-F", "REPLY %t|%D|%p")...)...)
	sub.waitOutput(`Subscribed \(mid: \d+\): 0\b`, 10*time.Second)

	cmdTopic := "mfd/v1/hosts/" + host + "/cmd/" + user
	pub := func(payload string, props ...string) {
		t.Helper()
		args := append(append([]string{}, mqttArgs...), "-t", cmdTopic, "-m", payload,
			"-D", "publish", "message-expiry-interval", "10")
		for i := 0; i+1 < len(props); i += 2 {
			args = append(args, "-D", "publish", props[i], props[i+1])
		}
		if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub %s: %v: %s", payload, err, out)
		}
	}
	// wantReply waits for a line of mosquitto_sub's that begins with line.
	wantReply := func(line string) {
		t.Helper()
		sub.waitOutput("(?m)^"+regexp.QuoteMeta(line), 10*time.Second)
	}

	// Without a Response Topic the reply goes to the sender's reply topic.
	pub(`{"id":"q1","op":"text.type","text":"mq"}`)
	wantReply(`REPLY mfd/v1/clients/tester/reply||{"id":"q1","ok":true}`)
	pub(`{"id":"q2","op":"key.tap","key":"z","mods":["shift"]}`,
		"response-topic", "mfd/v1/clients/tester/reply/e2e", "correlation-data", "corr-q2")
	wantReply(`REPLY mfd/v1/clients/tester/reply/e2e|corr-q2|{"id":"q2","ok":true}`)
	pub(`{"id":"q3","op":"text.type","text":"ü"}`)
	wantReply(`REPLY mfd/v1/clients/tester/reply||{"id":"q3","ok":true}`)
	pub(`{"id":"q4","op":"key.tap","key":"nokey"}`)
	wantReply(`REPLY mfd/v1/clients/tester/reply||{"id":"q4","ok":false,"error":{"code":"unknown_key",`)
	xev.Expect(t, `"mq", shift+z, "ü" through Mosquitto`, xtest.Seq(
		xtest.KeyTap("0x6d"), xtest.KeyTap("0x71"),
		xtest.Shifted(xtest.KeyTap("0x5a")...),
		xtest.KeyTap("0xfc"),
	)...)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if after := xtest.Keymap(t, display); after != before {
			return fmt.Errorf("xmodmap -pke differs from before typing:\n%s", keymapDiff(before, after))
		}
		return nil
	})
	if n := strings.Count(sub.out.String(), "\nREPLY "); n != 4 {
		t.Errorf("mosquitto_sub saw %d replies, want 4:\n%s", n, sub.out)
	}
}
