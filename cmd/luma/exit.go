package main

// Exit codes. Scripts can tell a deploy that failed and rolled back (the old
// version still serves) from one that stopped after the switch (the next
// deploy finishes it) and from bad input.
const (
	exitOK          = 0
	exitFailure     = 1 // any other error: unreachable server, engine error
	exitConfig      = 1 // luma.yml or .luma/secrets is not valid; nothing was changed
	exitUsage       = 2 // bad flags or arguments; nothing was changed
	exitRolledBack  = 3 // deploy failed before the switch and rolled back
	exitAfterSwitch = 4 // deploy stopped after the switch; run `luma deploy` again
	exitLocked      = 5 // another deploy holds the lock
	exitInterrupted = 130
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitWith(code int, err error) error {
	if err == nil {
		return &exitError{code: code}
	}
	return &exitError{code: code, msg: err.Error()}
}
