package naming

import (
	"crypto/rand"
	"encoding/hex"
)

// LabelOneOff marks a one-off container of `luma exec --new` with its
// app's name. One-offs carry LabelProject but never LabelApp, so deploys,
// status and pruning, which list an app's containers by LabelProject and
// LabelApp, never see them.
const LabelOneOff = "luma.oneoff"

// OneOffContainer is a new name for a one-off container of app:
// <app>-run-<8 hex digits>, so one-offs run side by side.
func OneOffContainer(app string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return app + "-run-" + hex.EncodeToString(b)
}
