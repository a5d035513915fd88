package client

import (
	"errors"
	"fmt"
)

// ErrClosed is wrapped by the error of every call made on a connection that
// has ended, together with the cause (io.EOF, ErrShutdown, a *StatusError
// the server sent before closing, a network error, or ErrClientClosed).
var ErrClosed = errors.New("connection closed")

// ErrShutdown is the cause of ErrClosed after the server sent SHUTDOWN.
var ErrShutdown = errors.New("server shut down")

// ErrClientClosed is the cause of ErrClosed after Close or Checkout.
var ErrClientClosed = errors.New("closed by the client")

// ErrProtocol is wrapped by the cause when the server broke the contract,
// e.g. a response whose Id does not match the request's.
var ErrProtocol = errors.New("protocol violation")

// StatusError is a non-200 response.
type StatusError struct {
	// Code is the status code, such as 409.
	Code int
	// Reason is the reason phrase sent with it, such as "Conflict".
	Reason string
	// Message is the server's one-line explanation (the response body).
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.Code, e.Reason)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message)
}

// closedError returns the error of a call on a connection that ended with
// cause.
func closedError(cause error) error {
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

// StatusCode returns the status code of the *StatusError in err's chain, or
// 0 if there is none.
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
