package proxy

import (
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// DefaultHealthPath is probed when a route names no health path.
const DefaultHealthPath = "/up"

// Service is what one app is served as: the hosts that route to it and its
// current target set. The Router swaps lb under its lock.
type Service struct {
	app         string
	hosts       []string
	healthPath  string
	maxBodySize int64             // bytes; 0 for no limit
	idleTimeout time.Duration     // longest reuse of an idle upstream connection; 0 for the proxy's pool default
	tls         *drivers.RouteTLS // nil: plain HTTP only
	lb          *LoadBalancer
}

func newService(r drivers.Route, lb *LoadBalancer) *Service {
	return &Service{
		app: r.App, hosts: r.Hosts, healthPath: r.HealthPath,
		maxBodySize: r.MaxBodySize, idleTimeout: r.UpstreamIdleTimeout, tls: r.TLS, lb: lb,
	}
}

// route describes the service as the admin protocol reports it.
func (s *Service) route() drivers.Route {
	return drivers.Route{
		App:        s.app,
		Hosts:      append([]string(nil), s.hosts...),
		Targets:    s.lb.addrs(),
		HealthPath: s.healthPath,

		MaxBodySize:         s.maxBodySize,
		UpstreamIdleTimeout: s.idleTimeout,
		TLS:                 s.tls,
	}
}

// probePath is the path that tells whether a target of s is healthy.
func (s *Service) probePath() string {
	if s.healthPath == "" {
		return DefaultHealthPath
	}
	return s.healthPath
}
