package main

import (
	"fmt"
	"io"
	"log"
	"net"
)

// forwardTCP copies every connection to listen to and from target: run
// inside a test server's network namespace, it makes the registry on the
// host's end of the link answer at the server's own 127.0.0.1, an address
// the Engine pulls from over plain HTTP.
func forwardTCP(listen, target string) error {
	for _, a := range []string{listen, target} {
		if err := allowed(a); err != nil {
			return fmt.Errorf("forward %s: %w", a, err)
		}
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Println(l.Addr().String())
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			t, err := net.Dial("tcp", target)
			if err != nil {
				log.Printf("forward: %v", err)
				return
			}
			defer t.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(t, c)
				t.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(c, t)
			c.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
