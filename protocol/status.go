package protocol

// Status codes used by CAMP/1.0, with HTTP's meanings and reason phrases.
const (
	StatusOK                   = 200
	StatusBadRequest           = 400
	StatusUnauthorized         = 401
	StatusForbidden            = 403
	StatusNotFound             = 404
	StatusRequestTimeout       = 408
	StatusConflict             = 409
	StatusContentTooLarge      = 413
	StatusHeaderFieldsTooLarge = 431
	StatusNotImplemented       = 501
	StatusServiceUnavailable   = 503
)

// Reason returns HTTP's reason phrase for a status code, or "Status" for a
// code CAMP/1.0 does not use.
func Reason(code int) string {
	switch code {
	case StatusOK:
		return "OK"
	case StatusBadRequest:
		return "Bad Request"
	case StatusUnauthorized:
		return "Unauthorized"
	case StatusForbidden:
		return "Forbidden"
	case StatusNotFound:
		return "Not Found"
	case StatusRequestTimeout:
		return "Request Timeout"
	case StatusConflict:
		return "Conflict"
	case StatusContentTooLarge:
		return "Request Entity Too Large"
	case StatusHeaderFieldsTooLarge:
		return "Request Header Fields Too Large"
	case StatusNotImplemented:
		return "Not Implemented"
	case StatusServiceUnavailable:
		return "Service Unavailable"
	}
	return "Status"
}
