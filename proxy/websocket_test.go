package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// wsFrame is one unmasked frame (as a server sends) with payload p.
func wsFrame(opcode byte, p []byte) []byte {
	out := []byte{0x80 | opcode}
	switch n := len(p); {
	case n < 126:
		out = append(out, byte(n))
	case n < 1<<16:
		out = append(out, 126, byte(n>>8), byte(n))
	default:
		out = append(out, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, p...)
}

// wsApp upgrades, then sends the frames it is given; closing end makes it
// drop the connection like a killed container.
func wsApp(t *testing.T, frames <-chan []byte) string {
	return addr(handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for f := range frames {
			conn.Write(f)
		}
	}))
}

func dialWS(t *testing.T, p *testProxy, host string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", host)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	return conn, br
}

// When the app's side of a WebSocket ends without a close frame (its
// container was stopped or killed), the client gets a close frame with
// 1001, going away, after the last whole frame, and then the end.
func TestWebSocketGoingAwayWhenAppDisappears(t *testing.T) {
	p := startProxy(t, testOptions(t))
	frames := make(chan []byte)
	p.setRoute(t, "demo/ws", []string{"ws.test"}, wsApp(t, frames))
	_, br := dialWS(t, p, "ws.test")
	big := bytes.Repeat([]byte("z"), 70000) // a 64-bit length header
	mid := bytes.Repeat([]byte("y"), 300)   // a 16-bit length header
	want := append(append(append(wsFrame(1, []byte("hello")), wsFrame(2, big)...), wsFrame(1, mid)...), goingAway...)
	go func() {
		frames <- wsFrame(1, []byte("hello"))
		frames <- wsFrame(2, big)
		f := wsFrame(1, mid)
		frames <- f[:3] // a frame split across reads
		frames <- f[3:]
		close(frames)
	}()
	got, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("client got %d bytes ending %x, want %d ending %x", len(got), got[max(0, len(got)-6):], len(want), want[len(want)-6:])
	}
}

// An app that closes properly is passed through as it is: no second close
// frame, and none in the middle of a frame.
func TestWebSocketAppCloseIsNotDoubled(t *testing.T) {
	for name, last := range map[string][]byte{
		"close frame sent":   wsFrame(8, []byte{0x03, 0xE8}),
		"cut inside a frame": wsFrame(1, []byte("truncated"))[:5],
	} {
		t.Run(name, func(t *testing.T) {
			p := startProxy(t, testOptions(t))
			frames := make(chan []byte, 2)
			p.setRoute(t, "demo/ws", []string{"ws.test"}, wsApp(t, frames))
			_, br := dialWS(t, p, "ws.test")
			frames <- wsFrame(1, []byte("hi"))
			frames <- last
			close(frames)
			got, _ := io.ReadAll(br)
			if want := append(wsFrame(1, []byte("hi")), last...); !bytes.Equal(got, want) {
				t.Fatalf("client got %x, want %x", got, want)
			}
		})
	}
}

// An event stream open on the old color does not hold the drain: like a
// WebSocket it lasts as long as the client wants, keeps flowing after the
// switch, and ends when its container stops.
func TestEventStreamDoesNotHoldDrain(t *testing.T) {
	p := startProxy(t, testOptions(t))
	next, stop := make(chan struct{}), make(chan struct{})
	old := addr(handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: old %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-stop:
				return
			case <-r.Context().Done():
				return
			}
		}
	}))
	p.setRoute(t, "demo/sse", []string{"sse.test"}, old)
	res, err := p.client().Get("http://sse.test/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	readEvent := func(want string) {
		t.Helper()
		line, err := br.ReadString('\n')
		br.ReadString('\n')
		if err != nil || line != "data: "+want+"\n" {
			t.Fatalf("event = %q, %v; want %q", line, err, want)
		}
	}
	readEvent("old 0")
	p.setRoute(t, "demo/sse", []string{"sse.test"}, addr(backend(t, "green")))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := p.router.Drain(ctx, "demo/sse", []string{old}, 3*time.Second); n != 0 || err != nil {
		t.Fatalf("drain: %d in flight, %v", n, err)
	}
	next <- struct{}{}
	readEvent("old 1") // still flowing after the switch and the drain
	close(stop)        // the old container stops
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("end of stream: %q, %v", rest, err)
	}
	if code, body := p.get(t, "http://sse.test/"); code != 200 || body != "green" {
		t.Fatalf("after the switch: %d %q", code, body)
	}
}
