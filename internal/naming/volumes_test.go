package naming

import (
	"slices"
	"testing"
)

func TestVolumes(t *testing.T) {
	vols := []string{"data:/var/lib/db", "uploads:/srv/up:ro", "/etc/ssl:/ssl:ro", "./conf:/conf", "shop-x:/x"}
	got, kept := Volumes("shop", vols, nil)
	want := []string{"shop-data:/var/lib/db", "shop-uploads:/srv/up:ro", "/etc/ssl:/ssl:ro", "./conf:/conf", "shop-shop-x:/x"}
	if !slices.Equal(got, want) || kept != nil {
		t.Fatalf("got %v kept %v", got, kept)
	}
	// The container being replaced mounts data (made before the project
	// was in names) at the same place: it keeps its name. uploads is
	// mounted elsewhere, so it is not the same volume's use.
	got, kept = Volumes("shop", vols, map[string]string{"/var/lib/db": "data", "/other": "uploads"})
	want[0] = "data:/var/lib/db"
	if !slices.Equal(got, want) || !slices.Equal(kept, []string{"data"}) {
		t.Fatalf("got %v kept %v", got, kept)
	}
}
