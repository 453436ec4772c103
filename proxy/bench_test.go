package proxy

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// BenchmarkProxy measures what luma-proxy adds per request: b.N GETs (and
// 8 KiB POST echoes) from parallel keep-alive clients, through the proxy
// and straight to the same backend.
//
//	go test -run '^$' -bench Proxy -benchtime 3s -cpu 2 ./proxy/
func BenchmarkProxy(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 8<<10)
	for _, tc := range []struct {
		name string
		post bool
	}{{"get", false}, {"post-8k", true}} {
		backendSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				io.Copy(w, r.Body)
				return
			}
			io.WriteString(w, "hello from v1 (blue)\n")
		})}
		bln, _ := net.Listen("tcp", "127.0.0.1:0")
		go backendSrv.Serve(bln)
		opts := Options{HTTPAddr: "127.0.0.1:0", StatePath: b.TempDir() + "/state.json", Logger: slog.New(slog.DiscardHandler)}
		opts = opts.withDefaults()
		s := newServer(opts)
		if _, err := s.router.SetRoute(drivers.Route{App: "bench/web", Hosts: []string{"web.test"}, Targets: []string{bln.Addr().String()}}); err != nil {
			b.Fatal(err)
		}
		pln, _ := net.Listen("tcp", "127.0.0.1:0")
		front := &http.Server{Handler: s.router}
		go front.Serve(pln)
		for _, via := range []struct{ name, addr string }{{"proxy", pln.Addr().String()}, {"direct", bln.Addr().String()}} {
			b.Run(tc.name+"/"+via.name, func(b *testing.B) {
				tr := &http.Transport{MaxIdleConnsPerHost: 64, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", via.addr)
				}}
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				b.SetParallelism(16)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						var res *http.Response
						var err error
						if tc.post {
							res, err = c.Post("http://web.test/echo", "application/octet-stream", bytes.NewReader(body))
						} else {
							res, err = c.Get("http://web.test/")
						}
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != 200 {
							b.Errorf("status %d", res.StatusCode)
							return
						}
					}
				})
			})
		}
		front.Close()
		backendSrv.Close()
		s.router.close()
	}
}
