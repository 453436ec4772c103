// Command luma deploys Docker apps to your own servers with zero-downtime
// blue-green deployments. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
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
