// Command hello is Luma's example and test app: a small HTTP server with a
// health check, a version endpoint, knobs to fail on purpose, streams
// (chunked bodies, Server-Sent Events, WebSockets) and a graceful shutdown
// on SIGTERM.
//
// Endpoints:
//   - GET /up: the health check (see UP_STATUS, UP_AFTER).
//   - GET /version: version, release, color and hostname as JSON.
//   - GET /slow?ms=N: answers after N milliseconds.
//   - POST /echo: answers the whole request body, sized or chunked, once it
//     has read all of it (up to 256 MiB; more is 413).
//   - GET /bytes?n=N: N bytes of a pattern (byte i is 'a'+i%26) with
//     Content-Length; with &chunked=1 the same bytes without Content-Length,
//     written in several flushed pieces.
//   - GET /events?interval=D: a Server-Sent Events stream, one event every D
//     (default 1s) with data "<LUMA_COLOR> <version> <n>", n from 1.
//   - GET /ws: a WebSocket that answers each message with
//     "<LUMA_COLOR> <version> <message>".
//
// On SIGTERM the server stops accepting, lets requests in flight finish,
// ends every event stream (the response ends cleanly) and closes every
// WebSocket with close code 1001 (going away), then exits 0.
//
// Environment: PORT (3000), UP_STATUS (status of /up, 200), UP_AFTER (/up
// fails until this long after start), CRASH_AFTER (exit 1 after this long),
// CRASH=1 (exit 1 at start), STOP_DELAY (linger this long after SIGTERM
// before shutting down, as an app closing its pools would), SIGTERM=exit
// (exit 2 at once on SIGTERM, finishing nothing: an app that stops badly),
// KEEPALIVE_TIMEOUT (close idle keep-alive connections after this long, as
// gunicorn does after 2s; unset: never), LUMA_RELEASE and LUMA_COLOR (shown
// by /version).
//
// The image is FROM scratch, so tests that need a command to exec run the
// binary itself: `hello cat` copies stdin to stdout, `hello exit CODE MSG`
// prints MSG to stderr and exits with CODE, `hello echo WORDS...` prints
// the words to stdout, `hello env KEY...` prints KEY=VALUE of each,
// `hello sleep D` sleeps D and `hello tty` is an interactive session (see
// tool.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		os.Exit(tool(os.Args[1:]))
	}
	if os.Getenv("CRASH") == "1" {
		log.Print("CRASH=1: exiting")
		os.Exit(1)
	}
	started := time.Now()
	upStatus := http.StatusOK
	if s := os.Getenv("UP_STATUS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("UP_STATUS: %v", err)
		}
		upStatus = n
	}
	upAfter := duration("UP_AFTER")
	if d := duration("CRASH_AFTER"); d > 0 {
		time.AfterFunc(d, func() {
			log.Printf("CRASH_AFTER=%s: exiting", d)
			os.Exit(1)
		})
	}

	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ss := newStreams()
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           routes(started, upStatus, upAfter, ss),
		ReadHeaderTimeout: 10 * time.Second,
		// Zero (unset) keeps idle connections open until the client closes them.
		IdleTimeout: duration("KEEPALIVE_TIMEOUT"),
	}
	// Shutdown waits for handlers but not for hijacked connections, and an
	// event stream would never end by itself: both end when it starts.
	srv.RegisterOnShutdown(ss.stop)
	exitOnTerm := os.Getenv("SIGTERM") == "exit"

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	log.Printf("hello %s listening on :%s", version, port)

	select {
	case err := <-served:
		log.Fatal(err)
	case sig := <-stop:
		if exitOnTerm && sig == syscall.SIGTERM {
			log.Printf("%s: SIGTERM=exit: exiting at once", sig)
			os.Exit(2)
		}
		if d := duration("STOP_DELAY"); d > 0 {
			log.Printf("%s: STOP_DELAY=%s", sig, d)
			time.Sleep(d)
		}
		log.Printf("%s: finishing in-flight requests", sig)
	}
	// Shutdown stops accepting and waits for in-flight requests; Docker's
	// stop timeout bounds the wait from outside.
	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	ss.wait()
	log.Print("stopped")
}

func routes(started time.Time, upStatus int, upAfter time.Duration, ss *streams) http.Handler {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/up", func(w http.ResponseWriter, r *http.Request) {
		if wait := upAfter - time.Since(started); wait > 0 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(upStatus)
		if upStatus < 300 {
			io.WriteString(w, "ok")
		} else {
			io.WriteString(w, "not ok")
		}
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"version":  version,
			"release":  os.Getenv("LUMA_RELEASE"),
			"color":    os.Getenv("LUMA_COLOR"),
			"hostname": host,
		})
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "slept %dms\n", ms)
	})
	mux.HandleFunc("POST /echo", echo)
	mux.HandleFunc("GET /bytes", bytesHandler)
	mux.HandleFunc("GET /events", ss.events)
	mux.HandleFunc("GET /ws", ss.websocket)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s (%s)\n", version, os.Getenv("LUMA_COLOR"))
	})
	return mux
}

func duration(env string) time.Duration {
	s := os.Getenv(env)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		log.Fatalf("%s: %v", env, err)
	}
	return d
}

// tool runs the commands tests exec in the container.
func tool(args []string) int {
	switch args[0] {
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "exit":
		code := 1
		if len(args) > 1 {
			code, _ = strconv.Atoi(args[1])
		}
		if len(args) > 2 {
			fmt.Fprintln(os.Stderr, args[2])
		}
		return code
	case "echo", "env", "sleep", "tty":
		return moreTools(args)
	}
	fmt.Fprintf(os.Stderr, "hello: unknown command %q\n", args[0])
	return 2
}
