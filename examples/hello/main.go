// Command hello is Luma's example and test app: a small HTTP server with a
// health check, a version endpoint, knobs to fail on purpose, and a graceful
// shutdown on SIGTERM.
//
// Environment: PORT (3000), UP_STATUS (status of /up, 200), UP_AFTER (/up
// fails until this long after start), CRASH_AFTER (exit 1 after this long),
// CRASH=1 (exit 1 at start), STOP_DELAY (linger this long after SIGTERM
// before shutting down, as an app closing its pools would), LUMA_RELEASE and
// LUMA_COLOR (shown by /version).
//
// The image is FROM scratch, so tests that need a command to exec run the
// binary itself: `hello cat` copies stdin to stdout, `hello exit CODE MSG`
// prints MSG to stderr and exits with CODE.
package main

import (
	"context"
	"encoding/json"
	"errors"
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
	srv := &http.Server{Addr: ":" + port, Handler: routes(started, upStatus, upAfter), ReadHeaderTimeout: 10 * time.Second}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	log.Printf("hello %s listening on :%s", version, port)

	select {
	case err := <-served:
		log.Fatal(err)
	case sig := <-stop:
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
	log.Print("stopped")
}

func routes(started time.Time, upStatus int, upAfter time.Duration) http.Handler {
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
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		// Read the whole body before answering: an HTTP/1 server may stop
		// reading the request once the response has started.
		b, err := io.ReadAll(r.Body)
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Printf("echo: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	})
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
	}
	fmt.Fprintf(os.Stderr, "hello: unknown command %q\n", args[0])
	return 2
}
