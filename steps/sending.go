package steps

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sendImage sends img from Source without the layers the server holds
// (docker save without their files, which the server's load takes from
// itself): a line with how much of the image travels, a progress line
// every second of a longer transfer, and a line with the rate at the end.
//
// Between the look at the server's layers and the load, a prune (of
// another app sharing a base, maybe by another luma) can remove a layer
// the tar left out, and the load fails: when one of them is gone after a
// failed load, the whole image is sent, once, and the output says why.
func (r *run) sendImage(ctx context.Context, img string) error {
	have, err := r.srv.Engine.LayerChains(ctx)
	if err != nil {
		return fmt.Errorf("list the server's layers: %w", err)
	}
	omitted, err := r.sendTar(ctx, img, have)
	if err == nil || len(omitted) == 0 || ctx.Err() != nil {
		return err
	}
	now, lerr := r.srv.Engine.LayerChains(ctx)
	if lerr != nil {
		return err
	}
	i := slices.IndexFunc(omitted, func(c string) bool { return !now[c] })
	if i < 0 {
		return err // not a missing layer: sending more would not help
	}
	r.say("Layer %s of %s left the server during the send (pruned meanwhile): sending the whole image", short(omitted[i]), img)
	_, err = r.sendTar(ctx, img, nil)
	return err
}

// sendTar saves img without the layers in have and loads it on the
// server, with its lines; it returns the chain IDs it left out.
func (r *run) sendTar(ctx context.Context, img string, have map[string]bool) ([]string, error) {
	tar, err := r.srv.Source.SaveImageFor(ctx, img, have)
	if err != nil {
		return nil, fmt.Errorf("save image %s: %w", img, err)
	}
	defer tar.Close()
	r.say("Sending image %s to the server: %s of %s (layers the server lacks)...", img, mb(tar.Size), mb(tar.Whole))
	now := r.opts.Now
	start := now()
	sent := &counter{r: tar}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := sent.n.Load()
				r.say("Sending image %s: %s of %s, %s", img, mb(n), mb(tar.Size), rate(n, now().Sub(start)))
			}
		}
	}()
	err = r.srv.Engine.LoadImage(ctx, sent)
	close(done)
	wg.Wait()
	if err != nil {
		return tar.Omitted, fmt.Errorf("load image %s: %w", img, err)
	}
	n, took := sent.n.Load(), now().Sub(start)
	r.say("Sent image %s: %s in %.1f s, %s", img, mb(n), took.Seconds(), rate(n, took))
	return tar.Omitted, nil
}

// short is a chain ID as docker shows IDs: 12 hex digits.
func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// counter counts the bytes read through it; progress reads the count.
type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// rate is MB/s; a transfer too short to time says so.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "too fast to time"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/1e6/d.Seconds())
}
