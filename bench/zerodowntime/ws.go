package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
)

const (
	wsMessages = 10
	wsInterval = 100 * time.Millisecond
)

// doWebSocket opens a WebSocket to examples/hello's /ws and sends
// wsMessages messages wsInterval apart, each of which must come back as
// "COLOR VERSION msg-N" from one app, then closes it normally: a session
// that spans a switch, checked message by message. The app closing it
// (1001, going away) before the last answer is a failure.
func (l *load) doWebSocket(s sample, seed uint64) sample {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(l.url, "http") + "/ws"
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: l.fresh, Host: l.host})
	if err != nil {
		s.latency = time.Since(s.due)
		if resp != nil && resp.StatusCode != 101 {
			s.status, s.failure = resp.StatusCode, fmt.Sprintf("status %d", resp.StatusCode)
		} else {
			s.failure = "websocket dial (" + classify(err) + ")"
		}
		return s
	}
	defer c.CloseNow()
	s.status = 101
	s.failure = converse(ctx, c, seed)
	if s.failure == "" {
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			s.failure = "websocket close (" + classify(err) + ")"
		}
	}
	s.latency = time.Since(s.due)
	return s
}

// converse sends the messages and checks every answer.
func converse(ctx context.Context, c *websocket.Conn, seed uint64) string {
	from := ""
	for i := 1; i <= wsMessages; i++ {
		if i > 1 {
			time.Sleep(wsInterval)
		}
		msg := fmt.Sprintf("msg-%d-%d", seed, i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return fmt.Sprintf("websocket cut after %d of %d answers (%s)", i-1, wsMessages, wsError(err))
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			return fmt.Sprintf("websocket cut after %d of %d answers (%s)", i-1, wsMessages, wsError(err))
		}
		f := strings.Fields(string(b))
		if len(f) != 3 || f[2] != msg {
			return "websocket answer mismatch"
		}
		if app := f[0] + " " + f[1]; from == "" {
			from = app
		} else if app != from {
			return "websocket answered by two apps"
		}
	}
	return ""
}

// wsError names a close by the peer by its status, else classifies err.
func wsError(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return fmt.Sprintf("closed %d", code)
	}
	return classify(err)
}
