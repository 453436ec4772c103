//go:build tools

// Package acme pins the test ACME server: Let's Encrypt's pebble and its
// DNS/challenge test server pebble-challtestsrv, built from this module
// (its own go.mod, so pebble's dependencies stay out of luma's) by
// scripts/acme.sh and internal/testenv.NewACME.
package acme

import (
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble"
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv"
)
