package config

import "testing"

// An app without keep_releases takes the project's; one with it keeps
// its own. image with build is the name of the build's result.
func TestKeepReleasesAndBuildImage(t *testing.T) {
	c := mustParse(t, "luma.yml", `name: shop
keep_releases: 2
apps:
  web:
    image: ghcr.io/acme/web:1.4
    build: {context: .}
    servers: [a]
  api:
    image: acme/api
    build: {context: .}
    servers: [a]
    keep_releases: 9
`)
	if c.KeepReleases != 2 || c.Apps[0].KeepReleases != 2 || c.Apps[1].KeepReleases != 9 {
		t.Errorf("keep_releases: project %d, web %d, api %d; want 2, 2, 9", c.KeepReleases, c.Apps[0].KeepReleases, c.Apps[1].KeepReleases)
	}
	for i, want := range []string{"ghcr.io/acme/web:1.4", "acme/api"} {
		if a := c.Apps[i]; a.Image != want || a.Build == nil {
			t.Errorf("app %s: image %q build %v, want %q and a build", a.Name, a.Image, a.Build, want)
		}
	}
}
