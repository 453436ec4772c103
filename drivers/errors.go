package drivers

import "errors"

// OpError is an engine error with the operation and object it concerns,
// e.g. "start container blog-green-1: <the engine's message>". Like
// os.PathError, it lets a caller that already names the operation print
// only the reason.
type OpError struct {
	Op  string // "start container blog-green-1"
	Err error
}

func (e *OpError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// Reason is err without the operation an *OpError names, for messages that
// already say what failed; other errors are returned as they are.
func Reason(err error) error {
	var op *OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
