package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// moreTools are the commands `luma exec` tests run: echo, env, sleep and
// tty.
func moreTools(args []string) int {
	switch args[0] {
	case "echo":
		fmt.Println(strings.Join(args[1:], " "))
	case "env":
		code := 0
		for _, k := range args[1:] {
			v, ok := os.LookupEnv(k)
			if !ok {
				fmt.Fprintf(os.Stderr, "%s is not set\n", k)
				code = 1
				continue
			}
			fmt.Printf("%s=%s\n", k, v)
		}
		return code
	case "sleep":
		d, err := time.ParseDuration(strings.Join(args[1:], ""))
		if err != nil {
			fmt.Fprintln(os.Stderr, "sleep:", err)
			return 2
		}
		fmt.Println("sleeping", d)
		time.Sleep(d)
	case "tty":
		return ttySession()
	}
	return 0
}

// ttySession says whether stdin and stdout are terminals and the
// terminal's size, then answers each line: "size" with the size now,
// "exit N" by exiting N, anything else by echoing it.
func ttySession() int {
	fmt.Printf("stdin tty: %t, stdout tty: %t, %s\r\n", term.IsTerminal(0), term.IsTerminal(1), size())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		switch {
		case line == "size":
			fmt.Printf("%s\r\n", size())
		case strings.HasPrefix(line, "exit "):
			code, _ := strconv.Atoi(strings.TrimPrefix(line, "exit "))
			return code
		default:
			fmt.Printf("echo: %s\r\n", line)
		}
	}
	return 0
}

func size() string {
	w, h, err := term.GetSize(1)
	if err != nil {
		return "size: none"
	}
	return fmt.Sprintf("size: %dx%d", w, h)
}
