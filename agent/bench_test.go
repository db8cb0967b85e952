package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/openmfd/mfd/internal/wire"
)

// BenchmarkCommandRoundTripWSS measures a key tap from a client's publish
// to its reply, over TLS WebSockets on loopback through a real broker,
// with the recording injector: the no-injection baseline that the X11
// figures are compared with. It reports p50 and p99 besides ns/op.
func BenchmarkCommandRoundTripWSS(b *testing.B) {
	_, wsURL, pool := startMochi(b)
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	a, err := New(Options{Host: testHost, Injector: &fakeInjector{}, Conn: ConnOptions{
		Servers: []*url.URL{wsURL}, TLSConfig: tlsConf,
		Credentials: func(context.Context) (string, string, error) { return "a-host", "pw", nil },
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(b.Context()); err != nil {
		b.Fatal(err)
	}

	replies := make(chan []byte, 16)
	conn, err := dialWebSocket(b.Context(), wsURL, tlsConf)
	if err != nil {
		b.Fatal(err)
	}
	cli := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { replies <- pr.Packet.Payload; return true, nil },
	}})
	if _, err := cli.Connect(b.Context(), &paho.Connect{ClientID: "p-bench", CleanStart: true, KeepAlive: 30}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cli.Disconnect(&paho.Disconnect{}); <-cli.Done() }()
	rt := wire.ReplyTopic("p-bench") + "/b"
	if _, err := cli.Subscribe(b.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: rt}}}); err != nil {
		b.Fatal(err)
	}
	tap := func(id string) (time.Duration, error) {
		start := time.Now()
		_, err := cli.Publish(b.Context(), &paho.Publish{Topic: wire.CmdTopic(testHost, "p-bench"),
			Payload:    fmt.Appendf(nil, `{"id":%q,"op":"key.tap","key":"a"}`, id),
			Properties: &paho.PublishProperties{ResponseTopic: rt}})
		if err != nil {
			return 0, err
		}
		select {
		case <-replies:
			return time.Since(start), nil
		case <-time.After(5 * time.Second):
			return 0, fmt.Errorf("no reply to %s", id)
		}
	}
	// Wait until the agent has subscribed.
	for i := 0; ; i++ {
		if _, err := tap(fmt.Sprint("warm-", i)); err == nil {
			break
		} else if i > 20 {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		d, err := tap(fmt.Sprint(i))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, d)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
