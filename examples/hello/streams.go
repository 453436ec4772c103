package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// streams are the long-lived responses a graceful shutdown must end itself:
// http.Server.Shutdown waits for handlers, and an event stream's handler
// never returns by itself; it neither waits for nor closes hijacked
// connections such as WebSockets.
type streams struct {
	stopping context.Context
	stop     context.CancelFunc // registered with Server.RegisterOnShutdown
	ws       sync.WaitGroup     // WebSocket handlers still running
}

func newStreams() *streams {
	s := &streams{}
	s.stopping, s.stop = context.WithCancel(context.Background())
	return s
}

// wait returns once every WebSocket is closed. Call it after Shutdown, when
// no new one can start.
func (s *streams) wait() { s.ws.Wait() }

// events is a Server-Sent Events stream: one event every interval, each
// flushed at once, until the client goes or the server shuts down; then the
// handler returns and the response ends cleanly.
func (s *streams) events(w http.ResponseWriter, r *http.Request) {
	interval := time.Second
	if q := r.URL.Query().Get("interval"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d <= 0 {
			http.Error(w, "interval must be a positive duration such as 200ms", http.StatusBadRequest)
			return
		}
		interval = d
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	color := os.Getenv("LUMA_COLOR")
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		if _, err := fmt.Fprintf(w, "data: %s %s %d\n\n", color, version, n); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-s.stopping.Done():
			return
		}
	}
}

// websocket answers each message with "<color> <version> <message>", in
// the message's type. When the server shuts down it closes the connection
// with 1001 (going away), after answering a message it is working on.
func (s *streams) websocket(w http.ResponseWriter, r *http.Request) {
	// Counted before the connection is hijacked, while Shutdown still
	// waits for this handler, so wait cannot miss it.
	s.ws.Add(1)
	defer s.ws.Done()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	var answering sync.Mutex
	closed := make(chan struct{})
	stop := context.AfterFunc(s.stopping, func() {
		defer close(closed)
		answering.Lock()
		answering.Unlock()
		c.Close(websocket.StatusGoingAway, "server shutting down")
	})
	defer func() {
		if !stop() {
			<-closed // the close handshake has begun: let it finish
		}
	}()
	color := os.Getenv("LUMA_COLOR")
	ctx := context.Background() // a cancelled Read closes the connection
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		answering.Lock()
		err = c.Write(ctx, typ, fmt.Appendf(nil, "%s %s %s", color, version, msg))
		answering.Unlock()
		if err != nil {
			return
		}
	}
}
