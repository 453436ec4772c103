package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// Session is `luma proxy admin --session`: one docker exec for a whole run
// instead of one per call, which costs ~60 ms each. It reads
// newline-delimited protocol.Requests from stdin until EOF and relays each
// concurrently (a Drain may wait for its timeout while other requests are
// answered) over one keep-alive client to socketPath; each Response, with
// its Request's ID, is written to stdout as one line as soon as it is
// ready. At EOF it waits for the answers in flight, then returns.
//
// It fails, ending the session, when the proxy cannot be reached or stdout
// cannot be written: the client then falls back to one-shot calls, which
// report the failure in their own words.
func Session(ctx context.Context, socketPath string, stdin io.Reader, stdout io.Writer) error {
	client := adminClient(socketPath, true)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var (
		mu       sync.Mutex // serializes writes: one whole line each
		w        = bufio.NewWriter(stdout)
		inflight sync.WaitGroup
	)
	answer := func(resp protocol.Response) {
		line, err := json.Marshal(resp)
		if err != nil {
			cancel(fmt.Errorf("encoding an answer: %w", err))
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Write(line)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			cancel(fmt.Errorf("writing an answer: %w", err))
		}
	}

	read := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), maxAdminBody)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var req protocol.Request
			if err := json.Unmarshal(line, &req); err != nil {
				// A type error still fills the ID; a syntax error answers 0.
				answer(protocol.Response{ID: req.ID, Error: "bad admin request on stdin: " + err.Error()})
				continue
			}
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				resp, err := relay(ctx, client, socketPath, req)
				if err != nil {
					cancel(err)
					return
				}
				resp.ID = req.ID
				answer(resp)
			}()
		}
		if err := sc.Err(); err != nil {
			read <- fmt.Errorf("reading admin requests: %w", err)
			return
		}
		inflight.Wait()
		read <- nil
	}()

	select {
	case err := <-read:
		if err == nil {
			err = context.Cause(ctx) // nil unless a request failed after EOF
		}
		return err
	case <-ctx.Done():
		// The proxy is unreachable, stdout is gone or the command is
		// stopped; the reader may stay blocked on stdin until exit.
		return context.Cause(ctx)
	}
}
