package config

import "strings"

// Template returns the commented luma.yml that Init writes: every key with
// its default, so the file doubles as a reference.
func Template(project string) string {
	return strings.ReplaceAll(template, "{{project}}", project)
}

const template = `# luma.yml: what Luma deploys, and where.
# Durations are Go durations: "500ms", "10s", "1m30s". Keys left out take
# the defaults shown here.

# Project name: lowercase letters, digits and -. Docker objects are named
# after it, e.g. the network {{project}}-network.
name: {{project}}

# How Luma reaches servers. "localhost" in a servers list means the local
# Docker engine, without SSH.
ssh:
  user: root
  port: 22
  # key: ~/.ssh/id_ed25519      # default: ssh-agent, then ~/.ssh/id_ed25519, ~/.ssh/id_rsa
  known_hosts: ~/.ssh/known_hosts
  trust_on_first_use: false     # true records an unknown server's host key on first connect

# luma-proxy takes HTTP(S) traffic on each server and switches it between
# the blue and green copies of an app without dropping requests.
proxy:
  http_port: 80
  https_port: 443
  image: ""                     # a luma-proxy image for servers of another platform
  acme:                         # where apps with ssl: true get certificates
    email: ""                   # the CA's contact for the account (optional)
    directory: production       # Let's Encrypt; staging, or any ACME directory URL
    ca_certificate: ""          # PEM file of a private CA's root (step-ca, pebble)

# A registry the servers pull images from, with credentials passed per
# pull (never stored on a server). Images on other registries are pulled
# anonymously. With one, apps that build are pushed once to
# <server>/<project>-<app>:<release> and every server pulls that.
# registry:
#   server: ghcr.io/acme        # host[:port][/namespace]
#   username: deploy
#   password: REGISTRY_PASSWORD # the NAME of a secret in .luma/secrets

# After each deploy, every server keeps the images of each app's newest
# releases (a rollback to them needs no transfer) and removes older ones
# Luma made, never one a container uses. "luma prune" does it on demand.
keep_releases: 5

apps:
  web:
    # Either run an image...
    # image: my-web:latest
    # ...or build one from this directory (with image: too, the build is
    # tagged with it and with <image without tag>:<release>):
    build:
      context: .
      dockerfile: Dockerfile
      args: {}                  # e.g. {VERSION: "1.0"}
      target: ""
      platform: ""              # e.g. linux/amd64
    servers: ["localhost"]      # [user@]host[:port], e.g. "deploy@203.0.113.10:2222"
    replicas: 1
    environment:
      plain: []                 # e.g. ["PORT=3000"]
      secret: []                # names whose values live in .luma/secrets, e.g. ["DB_PASSWORD"]
    proxy:
      hosts: ["{{project}}.localhost"]
      app_port: 3000            # the port the app listens on inside its container
      ssl: false                # true: HTTPS with a certificate from ACME for each host;
      #                           # or the app's own: {certificate: CERT, private_key: KEY}
      #                           # (names of secrets in .luma/secrets holding PEM)
      ssl_redirect: true        # with ssl, plain HTTP gets 308 to HTTPS
      hsts: false               # with ssl, send Strict-Transport-Security (a year)
      # max_body_size: 1GiB       # larger request bodies get 413 (0: no limit)
      # upstream_idle_timeout: 1s # reuse idle connections to the app at most this long;
      #                           # luma-proxy also learns the app's keep-alive timeout
    health_check:               # a new version takes traffic once path answers 200
      path: /up
      start_period: 10s
      interval: 1s
      timeout: 5s
      retries: 3
    volumes: []                 # e.g. ["data:/var/lib/data", "/srv/uploads:/uploads:ro"]
    command: []                 # default: the image's own command
    drain_timeout: 30s          # how long in-flight requests may finish on the old version
    stop_timeout: 30s           # SIGTERM grace period before the old containers are killed
    # keep_releases: 5          # this app's own count; default: the project's keep_releases

# Services are accessories such as a database: not proxied, not blue-green.
# services:
#   db:
#     image: postgres:16
#     servers: ["localhost"]
#     ports: ["127.0.0.1:5432:5432"]   # [hostIP:]hostPort:containerPort[/tcp|udp]
#     volumes: ["db-data:/var/lib/postgresql/data"]
#     environment:
#       plain: ["POSTGRES_USER=app"]
#       secret: ["POSTGRES_PASSWORD"]
#     command: []
`

const secretsTemplate = `# Secret values for luma.yml, one KEY=VALUE per line. Keep this file out of
# git (luma init added it to .gitignore). List a name under an app's
# environment.secret in luma.yml to pass its value to the app.
`
