// Command zerodowntime proves (or disproves) Luma's promise: it sends an
// open-loop, constant-rate mix of requests through luma-proxy on 127.0.0.1
// while `luma deploy` runs again and again, alternating two app versions,
// and reports every failed request by kind, latencies overall and around
// each switch, and each deploy's duration by machine state.
//
// It exits 1 when any request failed, so a short run can gate a test suite.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/helloimage"
)

type options struct {
	luma      string
	server    string
	sshBlock  string
	images    []string
	replicas  int
	rate      int
	deploys   int
	baseline  time.Duration
	slowShare float64
	slowMS    int
	port      int
	addr      string
	project   string
	jsonOut   string
	mix       mix
	keepalive time.Duration // the app's KEEPALIVE_TIMEOUT; 0 leaves it unset
	appEnv    []string      // more KEY=VALUE for the app's environment.plain
	bursts    int
	burstSize int
	burstGap  time.Duration
	proxyLogs string
	https     bool
	httpsPort int
	tls       *benchTLS
	// upgradeLuma, when set, makes each round a `luma setup` with this
	// binary and -luma in turn (a luma upgrade and back) instead of a
	// deploy.
	upgradeLuma string
	// round, when "restart" or "kill", makes each round a `docker restart
	// luma-proxy` or a SIGKILL of the proxy process (the supervisor's
	// child) instead of a deploy, to measure what clients see.
	round string
}

func main() {
	var o options
	var images, mixNames, keepalive string
	flag.StringVar(&o.luma, "luma", "bin/luma", "luma binary")
	flag.StringVar(&o.server, "server", "localhost", "server to deploy to")
	flag.StringVar(&o.sshBlock, "ssh", "", "ssh block for luma.yml, e.g. 'ssh: {key: K, known_hosts: F}'")
	flag.StringVar(&images, "images", "build", `two images to alternate, or "build" to build examples/hello v1 and v2 on the local engine`)
	flag.IntVar(&o.replicas, "replicas", 1, "replicas per server")
	flag.IntVar(&o.rate, "rate", 300, "requests per second (0: no load, time the deploys alone)")
	flag.IntVar(&o.deploys, "deploys", 20, "deploys in a row")
	flag.DurationVar(&o.baseline, "baseline", 10*time.Second, "load with no deploy first (0 to skip)")
	flag.Float64Var(&o.slowShare, "slow-share", 0.02, "share of slow requests")
	flag.IntVar(&o.slowMS, "slow-ms", 3000, "duration of a slow request")
	flag.IntVar(&o.port, "port", 8080, "luma-proxy port")
	flag.StringVar(&o.addr, "addr", "127.0.0.1", "luma-proxy address: 127.0.0.1, or a test server's namespace address")
	flag.StringVar(&o.project, "project", "zdt", "project name (its containers are removed at the end)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the report as JSON to this file")
	flag.StringVar(&mixNames, "mix", "all", "requests to send, comma-separated: all, or "+allMix+
		"; post-SIZE sends both -sized (Content-Length) and -chunked bodies, post-SIZE-sized or post-SIZE-chunked one of them")
	flag.StringVar(&keepalive, "app-keepalive", "1s", `the app's keep-alive (idle) timeout, KEEPALIVE_TIMEOUT in its environment, e.g. 1s, 2s, 5s; "" leaves the app's default`)
	flag.Func("app-env", `KEY=VALUE added to the app's environment (repeatable), e.g. SIGTERM=exit: examples/hello exits at once on SIGTERM`, func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.appEnv = append(o.appEnv, v)
		return nil
	})
	flag.IntVar(&o.bursts, "bursts", 20, "bursts separated by idle gaps, at rest before the deploys (0 to skip)")
	flag.IntVar(&o.burstSize, "burst-size", 32, "requests sent at once in each burst")
	flag.DurationVar(&o.burstGap, "burst-gap", 0, "idle gap between bursts (0: the app's keep-alive, or 1s when unset)")
	flag.StringVar(&o.proxyLogs, "proxy-logs", "luma-proxy", `container whose error/upstream log lines to report, on the engine of the docker CLI ("" to skip)`)
	flag.BoolVar(&o.https, "https", false, "serve the app over HTTPS with its own certificate and send the load there (HTTP/2 on reused connections)")
	flag.IntVar(&o.httpsPort, "https-port", 8443, "luma-proxy's HTTPS port, with -https")
	flag.StringVar(&o.round, "round", "deploy", `what each round does under the load: deploy, rollback (a deploy, then luma rollback, in turn), restart (docker restart luma-proxy, local engine) or kill (SIGKILL of the proxy process; the supervisor restarts it)`)
	flag.StringVar(&o.upgradeLuma, "upgrade-luma", "", "another luma binary (another proxy revision): each round runs luma setup with it and -luma in turn, under the load, instead of a deploy")
	flag.Parse()
	var err error
	if o.mix, err = parseMix(mixNames, o.slowShare); err != nil {
		fatal(err.Error())
	}
	if keepalive != "" {
		if o.keepalive, err = time.ParseDuration(keepalive); err != nil || o.keepalive <= 0 {
			fatal("-app-keepalive: want a duration such as 1s")
		}
	}
	if o.burstGap == 0 {
		o.burstGap = o.keepalive
		if o.burstGap == 0 {
			o.burstGap = time.Second
		}
	}
	o.images = strings.Split(images, ",")
	if images == "build" {
		if o.images, err = buildImages(); err != nil {
			fatal(err.Error())
		}
	}
	if len(o.images) != 2 {
		fatal("-images needs two images")
	}
	abs, err := filepath.Abs(o.luma)
	if err != nil {
		fatal(err.Error())
	}
	o.luma = abs
	if o.upgradeLuma != "" {
		if o.upgradeLuma, err = filepath.Abs(o.upgradeLuma); err != nil {
			fatal(err.Error())
		}
	}
	rep, err := run(o)
	if err != nil {
		fatal(err.Error())
	}
	rep.print(os.Stdout)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		os.WriteFile(o.jsonOut, b, 0o644)
	}
	if rep.failed() > 0 || rep.DeployFailures > 0 {
		os.Exit(1)
	}
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "zerodowntime:", msg)
	os.Exit(2)
}

func run(o options) (*report, error) {
	dir, err := os.MkdirTemp("", "luma-zdt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defer cleanup(o.project)
	host := o.project + ".test"
	if o.https {
		if o.tls, err = newBenchTLS(host); err != nil {
			return nil, err
		}
		if err := o.tls.writeSecrets(dir); err != nil {
			return nil, err
		}
	}
	p := project{o: o, dir: dir}
	if err := p.write(o.images[0]); err != nil {
		return nil, err
	}
	if _, err := p.luma("setup"); err != nil {
		return nil, err
	}
	if _, err := p.luma("deploy", "--release", "zdt-0"); err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://%s", net.JoinHostPort(o.addr, strconv.Itoa(o.port)))
	if o.https {
		base = fmt.Sprintf("https://%s", net.JoinHostPort(o.addr, strconv.Itoa(o.httpsPort)))
	}
	l := newLoad(base, host, o.rate, o.mix, o.slowMS)
	if o.https {
		l.useTLS(o.tls.clientConfig(host))
	}
	rep := &report{Options: describe(o)}
	if o.baseline > 0 && o.rate > 0 {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), o.baseline)
		l.run(ctx)
		cancel()
		rep.Baseline = o.phase(l, start, nil)
	}
	if o.bursts > 0 && o.rate > 0 {
		start := time.Now()
		// Let the baseline's connections go idle first, as between bursts.
		time.Sleep(o.burstGap)
		l.bursts(context.Background(), o.bursts, o.burstSize, o.burstGap)
		rep.Bursts = o.phase(l, start, nil)
	}
	if o.deploys == 0 {
		return rep, nil
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.run(ctx); close(done) }()
	time.Sleep(time.Second)
	for i := 1; i <= o.deploys; i++ {
		var d deployRun
		switch {
		case o.upgradeLuma != "":
			d = p.upgrade(i)
		case o.round == "restart" || o.round == "kill":
			d = p.disturbProxy(i)
		default:
			d = p.deploy(i)
		}
		rep.Deploys = append(rep.Deploys, d)
		if d.Error != "" {
			rep.DeployFailures++
		}
	}
	time.Sleep(time.Second)
	cancel()
	<-done
	rep.Load = o.phase(l, start, rep.Deploys)
	return rep, nil
}

// phase summarizes the requests sent since start, with luma-proxy's log
// lines of the same time.
func (o options) phase(l *load, start time.Time, deploys []deployRun) *summary {
	s := summarize(l.take(), deploys)
	s.Start, s.End = start, time.Now()
	// A second of margin: the proxy may log just after the client saw the failure.
	var err error
	if s.ProxyLog, err = proxyLog(o.proxyLogs, start, s.End.Add(time.Second)); err != nil {
		s.ProxyLogErr = err.Error()
	}
	return &s
}

// project is the temporary luma project the benchmark deploys.
type project struct {
	o   options
	dir string
}

func (p project) write(image string) error {
	yml := fmt.Sprintf(`name: %s
%s
proxy:
  http_port: %d
%s
apps:
  %s:
    image: %s
    servers: [%q]
    replicas: %d
    proxy:
      hosts: [%q]
      app_port: 3000
%s
    health_check:
      start_period: 5s
      interval: 1s
      timeout: 2s
      retries: 3
    drain_timeout: 30s
    stop_timeout: 30s
%s`, p.o.project, p.o.sshBlock, p.o.port, p.httpsPort(), p.o.project, image, p.o.server, p.o.replicas, p.o.project+".test", p.ssl(), p.env())
	return os.WriteFile(filepath.Join(p.dir, "luma.yml"), []byte(yml), 0o644)
}

func (p project) httpsPort() string {
	if !p.o.https {
		return ""
	}
	return fmt.Sprintf("  https_port: %d", p.o.httpsPort)
}

func (p project) ssl() string {
	if !p.o.https {
		return ""
	}
	return "      ssl: {certificate: ZDT_CERT, private_key: ZDT_KEY}\n      ssl_redirect: false"
}

// env sets the app's keep-alive timeout (examples/hello reads
// KEEPALIVE_TIMEOUT into http.Server.IdleTimeout) and the -app-env pairs.
func (p project) env() string {
	var vars []string
	if p.o.keepalive > 0 {
		vars = append(vars, "KEEPALIVE_TIMEOUT="+p.o.keepalive.String())
	}
	vars = append(vars, p.o.appEnv...)
	if len(vars) == 0 {
		return ""
	}
	quoted := make([]string, len(vars))
	for i, v := range vars {
		quoted[i] = strconv.Quote(v)
	}
	return fmt.Sprintf("    environment:\n      plain: [%s]\n", strings.Join(quoted, ", "))
}

func (p project) luma(args ...string) (string, error) {
	cmd := exec.Command(p.o.luma, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("luma %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// upgrade runs luma setup with the other binary each round: the proxy is
// upgraded in place, then back.
func (p project) upgrade(i int) deployRun {
	bin := p.o.upgradeLuma
	if i%2 == 0 {
		bin = p.o.luma
	}
	d := deployRun{N: i, Image: "setup with " + filepath.Base(bin), Start: time.Now()}
	args := []string{"setup"}
	if bin == p.o.luma {
		args = append(args, "--allow-downgrade") // back from -upgrade-luma's revision
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	d.End = time.Now()
	d.Seconds = d.End.Sub(d.Start).Seconds()
	if err != nil {
		d.Error = fmt.Sprintf("luma setup: %v\n%s", err, out)
	}
	// Let the load meet the old proxy while it drains (its idle
	// keep-alive connections get 5 s) before the next round.
	time.Sleep(3 * time.Second)
	return d
}

// disturbProxy restarts luma-proxy's container, or kills its proxy
// process, then gives the load 3 s.
func (p project) disturbProxy(i int) deployRun {
	d := deployRun{N: i, Image: p.o.round + " luma-proxy", Start: time.Now()}
	var err error
	var out []byte
	if p.o.round == "restart" {
		out, err = exec.Command("docker", "restart", "luma-proxy").CombinedOutput()
	} else {
		err = killProxyChild()
	}
	d.End = time.Now()
	d.Seconds = d.End.Sub(d.Start).Seconds()
	if err != nil {
		d.Error = fmt.Sprintf("%s: %v %s", p.o.round, err, out)
	}
	time.Sleep(3 * time.Second)
	return d
}

// killProxyChild SIGKILLs the proxy process under luma-proxy's
// supervisor (PID 1 of the container), found by its host PID.
func killProxyChild() error {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", "luma-proxy").Output()
	if err != nil {
		return err
	}
	sup := strings.TrimSpace(string(out))
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == sup {
			pid, _ := strconv.Atoi(strings.Split(st, "/")[2])
			return syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("no process under luma-proxy's supervisor (pid %s)", sup)
}

// deploy runs deploy number i and reads its per-state timings back.
func (p project) deploy(i int) deployRun {
	image := p.o.images[i%2]
	d := deployRun{N: i, Image: image, Start: time.Now()}
	if err := p.write(image); err != nil {
		d.Error = err.Error()
		return d
	}
	args := []string{"deploy", "--release", fmt.Sprintf("zdt-%d", i)}
	if p.o.round == "rollback" && i%2 == 0 {
		// Every other round rolls back to the release before: the image
		// of two rounds ago, still on the server.
		d.Image = "rollback to " + image
		args = []string{"rollback", p.o.project}
	}
	_, err := p.luma(args...)
	d.End = time.Now()
	d.Seconds = d.End.Sub(d.Start).Seconds()
	if err != nil {
		d.Error = err.Error()
		return d
	}
	out, err := p.luma("status", "--json")
	if err == nil {
		d.States = timings(out)
	}
	return d
}

// timings picks the per-state durations of the last deploy out of
// `luma status --json`.
func timings(out string) map[string]float64 {
	var doc struct {
		Apps []struct {
			Servers []struct {
				Timings map[string]float64 `json:"timings_seconds"`
			} `json:"servers"`
		} `json:"apps"`
	}
	if json.Unmarshal([]byte(out), &doc) != nil || len(doc.Apps) == 0 || len(doc.Apps[0].Servers) == 0 {
		return nil
	}
	m := map[string]float64{}
	for k, v := range doc.Apps[0].Servers[0].Timings {
		m[k] = v
	}
	return m
}

// cleanup removes the project's containers from the local engine,
// leaving luma-proxy and the project's network. A remote test server goes with `test/servers down`.
func cleanup(project string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=luma.project="+project).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	// The network stays: luma-proxy may have been created on it, and
	// taking a container's first network away unpublishes its ports.
}

func describe(o options) string {
	ka := "default"
	if o.keepalive > 0 {
		ka = o.keepalive.String()
	}
	d := fmt.Sprintf("server=%s replicas=%d rate=%d/s deploys=%d baseline=%s bursts=%dx%d gap~%s slow=%.0f%%x%dms app-keepalive=%s mix=%s",
		o.server, o.replicas, o.rate, o.deploys, o.baseline, o.bursts, o.burstSize, o.burstGap, o.slowShare*100, o.slowMS, ka, o.mix.names)
	if len(o.appEnv) > 0 {
		d += " app-env=" + strings.Join(o.appEnv, ",")
	}
	if o.https {
		d += fmt.Sprintf(" https(port %d, h2 on reused connections)", o.httpsPort)
	}
	if o.upgradeLuma != "" {
		d += " rounds=luma setup alternating " + filepath.Base(o.upgradeLuma) + " and " + filepath.Base(o.luma)
	} else if o.round != "deploy" {
		d += " rounds=" + o.round + " luma-proxy"
	}
	return d
}

// buildImages builds examples/hello at versions v1 and v2 locally.
func buildImages() ([]string, error) {
	ctx := context.Background()
	e, err := docker.Connect(ctx, docker.Target{Server: "localhost"})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var refs []string
	for _, v := range []string{"v1", "v2"} {
		ref, err := helloimage.Build(ctx, e, v, nil)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
