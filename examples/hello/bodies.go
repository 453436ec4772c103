package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
)

// maxEcho bounds the body /echo holds in memory.
const maxEcho = 256 << 20

// echo answers the whole request body, sized or chunked. It reads all of it
// before answering: an HTTP/1 server may stop reading the request once the
// response has started. A sized body is read into one buffer of its size, a
// chunked one into growing blocks, so memory stays near the body's size
// (io.ReadAll would double it while growing).
func echo(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxEcho {
		http.Error(w, fmt.Sprintf("body of %d bytes is over the %d this app echoes", r.ContentLength, maxEcho), http.StatusRequestEntityTooLarge)
		return
	}
	blocks, n, err := readBody(http.MaxBytesReader(w, r.Body, maxEcho), r.ContentLength)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		status := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			status = http.StatusRequestEntityTooLarge
		}
		log.Printf("echo: %v", err)
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	for _, b := range blocks {
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

// readBody reads r to its end: into one buffer when size (the request's
// Content-Length) is known, else into blocks that double up to 1 MiB.
func readBody(r io.Reader, size int64) (blocks [][]byte, n int64, err error) {
	if size >= 0 {
		b := make([]byte, size)
		k, err := io.ReadFull(r, b)
		if err == nil {
			// A sized body ends where it says; this reports a broken one.
			_, err = r.Read(make([]byte, 1))
			if err == io.EOF {
				err = nil
			}
		}
		return [][]byte{b[:k]}, int64(k), err
	}
	for bs := 32 << 10; ; bs = min(2*bs, 1<<20) {
		b := make([]byte, bs)
		k, err := fill(r, b)
		if k > 0 {
			blocks = append(blocks, b[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return blocks, n, nil
		}
		if err != nil {
			return blocks, n, err
		}
	}
}

// fill reads into b until it is full or r fails; io.EOF is the clean end
// (unlike io.ReadFull, which hides a truncated body's io.ErrUnexpectedEOF).
func fill(r io.Reader, b []byte) (int, error) {
	k := 0
	for k < len(b) {
		m, err := r.Read(b[k:])
		k += m
		if err != nil {
			return k, err
		}
	}
	return k, nil
}

// bytesHandler answers n bytes of pattern, with Content-Length or, with
// chunked=1, without it and in several flushed pieces (a chunked response).
func bytesHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.ParseInt(q.Get("n"), 10, 64)
	if err != nil || n < 0 {
		http.Error(w, "n must be a number of bytes", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if q.Get("chunked") != "1" {
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		writePattern(w, 0, n)
		return
	}
	// At least four pieces, each flushed: the proxy must pass them on
	// as they come.
	rc := http.NewResponseController(w)
	piece := max(1, min((n+3)/4, 64<<10))
	for off := int64(0); off < n; off += piece {
		if writePattern(w, off, min(piece, n-off)) != nil || rc.Flush() != nil {
			return
		}
	}
}

// pattern repeats the alphabet; its length is a multiple of 26 so that any
// offset into the stream starts at off%26 in it.
var pattern = func() []byte {
	b := make([]byte, 26*1260)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

// writePattern writes bytes off to off+n of the stream whose byte i is
// 'a'+i%26.
func writePattern(w io.Writer, off, n int64) error {
	for n > 0 {
		start := off % 26
		k := min(n, int64(len(pattern))-start)
		if _, err := w.Write(pattern[start : start+k]); err != nil {
			return err
		}
		off += k
		n -= k
	}
	return nil
}
