package docker

import (
	"slices"
	"testing"
)

func TestSizesOfLayers(t *testing.T) {
	for _, tc := range []struct {
		history []int64
		n       int
		want    []int64
	}{
		{[]int64{5, 0, 3, 0}, 2, []int64{5, 3}},          // two steps without a layer
		{[]int64{5, 0, 3}, 3, []int64{5, 0, 3}},          // every step made a layer: exact
		{[]int64{5, 0, 3, 0}, 3, []int64{5, 3, 0}},       // which 0-byte step made a layer is unknown: last
		{[]int64{0, 0}, 1, []int64{0}},                   //
		{[]int64{7, 0, 0, 0}, 1, []int64{7}},             //
		{[]int64{1, 2, 3}, 3, []int64{1, 2, 3}},          //
		{[]int64{0, 4, 0, 0, 6, 0}, 3, []int64{4, 6, 0}}, //
	} {
		got, err := sizesOfLayers(tc.history, tc.n)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("sizesOfLayers(%v, %d) = %v, %v, want %v", tc.history, tc.n, got, err, tc.want)
		}
	}
	if _, err := sizesOfLayers([]int64{1, 2}, 1); err == nil {
		t.Error("more layers with bytes than the image has: no error")
	}
}
