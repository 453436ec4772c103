// Command slowlink measures what an image transfer does to the calls a
// deploy makes beside it on the same SSH connection: lease renewals,
// health probes and route swaps are luma-proxy admin calls, and a deploy
// sends its image while they go on. It sends -image from the local engine
// to -server (removed there first, so every layer travels) and pings
// luma-proxy every -every meanwhile, then prints the pings' latencies.
//
// Slow the link first to see what a laptop's uplink does, e.g. for the
// first netns test server (test/servers up 1):
//
//	tc qdisc add dev luma-h1 root tbf rate 16mbit burst 64kb latency 2s
//	go run ./bench/slowlink -server 10.231.1.2 -key /tmp/luma-servers/id_ed25519 \
//	    -known-hosts /tmp/luma-servers/known_hosts -image big:1
//	tc qdisc del dev luma-h1 root
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers/docker"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/drivers/ssh"
)

func main() {
	server := flag.String("server", "", "server to send to (SSH host)")
	user := flag.String("user", "root", "SSH user")
	key := flag.String("key", "", "SSH private key")
	known := flag.String("known-hosts", "", "known_hosts file")
	image := flag.String("image", "", "local image to send")
	every := flag.Duration("every", 250*time.Millisecond, "how often to ping luma-proxy")
	flag.Parse()
	if *server == "" || *image == "" {
		log.Fatal("-server and -image are required")
	}
	ctx := context.Background()
	src, err := docker.Connect(ctx, docker.Target{Server: docker.Localhost})
	if err != nil {
		log.Fatal(err)
	}
	dst, err := docker.Connect(ctx, docker.Target{Server: *server, SSH: ssh.Options{User: *user, KeyFile: *key, KnownHosts: *known}})
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()
	px := proxyclient.New(dst)
	defer px.Close()
	if _, err := px.Ping(ctx); err != nil {
		log.Fatalf("luma-proxy on %s: %v (run luma setup there first)", *server, err)
	}
	dst.RemoveImage(ctx, *image) // every layer travels

	tar, err := src.SaveImageFor(ctx, *image, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tar.Close()
	var (
		mu    sync.Mutex
		lat   []time.Duration
		fails int
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := px.Ping(pctx)
			cancel()
			mu.Lock()
			if err != nil {
				fails++
			} else {
				lat = append(lat, time.Since(start))
			}
			mu.Unlock()
		}
	})
	start := time.Now()
	err = dst.LoadImage(ctx, tar)
	took := time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		log.Fatalf("load: %v", err)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
	}
	fmt.Printf("sent %.1f MB in %.1f s (%.1f MB/s); %d pings: p50 %v, p90 %v, p99 %v, max %v; %d failed\n",
		float64(tar.Size)/1e6, took.Seconds(), float64(tar.Size)/1e6/took.Seconds(), len(lat), pct(0.5), pct(0.9), pct(0.99), pct(1), fails)
}
