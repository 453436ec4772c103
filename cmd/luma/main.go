// Command luma deploys Docker apps to your own servers with zero-downtime
// blue-green deployments. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A closed output (`luma deploy | head`, a dropped terminal pipe)
	// must not kill luma in the middle of a deploy: writes fail instead,
	// and output is best effort while the work finishes.
	signal.Ignore(syscall.SIGPIPE)
	err := newRootCmd(os.Stdout, os.Stderr).Execute()
	if err == nil {
		return
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(os.Stderr, "Error:", ex.msg)
		}
		os.Exit(ex.code)
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	os.Exit(exitFailure)
}
