package proxy

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"
)

// challengePrefix is where an ACME CA fetches HTTP-01 answers (RFC 8555
// §8.3); it is served on plain HTTP before any redirect or route.
const challengePrefix = "/.well-known/acme-challenge/"

// relayHeader marks a challenge request one proxy forwards to another, so
// it is never forwarded again.
const relayHeader = "X-Luma-Challenge-Relay"

// serveChallenge answers the CA. A token this proxy did not ask for is
// asked of the app's other proxies (the route's peers): with DNS naming
// several servers, the CA may knock on any of them.
func (s *server) serveChallenge(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimPrefix(r.URL.Path, challengePrefix)
	if ka, ok := s.certs.token(token); ok {
		io.WriteString(w, ka)
		return
	}
	if r.Header.Get(relayHeader) == "" && token != "" && !strings.Contains(token, "/") {
		host := requestHost(r.Host)
		if ka, ok := s.relayChallenge(r.Context(), s.router.peersOf(host), r.Host, token); ok {
			io.WriteString(w, ka)
			return
		}
	}
	http.NotFound(w, r)
}

// relayChallenge asks every peer at once and returns the first answer.
func (s *server) relayChallenge(ctx context.Context, peers []string, host, token string) (string, bool) {
	if len(peers) == 0 {
		return "", false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	answers := make(chan string, len(peers))
	for _, p := range peers {
		go func() {
			ka, err := askPeer(ctx, p, host, token)
			if err != nil {
				s.logger.Warn("challenge relay", "peer", p, "host", host, "err", err)
			}
			answers <- ka
		}()
	}
	for range peers {
		if ka := <-answers; ka != "" {
			return ka, true
		}
	}
	return "", false
}

var relayClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 5 * time.Second},
	// A peer's answer is the answer; a redirect (to HTTPS) is not.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func askPeer(ctx context.Context, peer, host, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+peer+challengePrefix+token, nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	req.Header.Set(relayHeader, "1")
	res, err := relayClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", nil
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 4096))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
