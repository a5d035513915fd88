package server

import (
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Sampling of per-connection log lines: the first logFirst lines with the
// same message each second, then every logThereafter-th.
const (
	logFirst      = 100
	logThereafter = 100
)

// sampled returns log wrapped in zap's sampler when on, so that a flood of
// connections cannot flood the log; off returns log itself.
func sampled(log *zap.Logger, on bool) *zap.Logger {
	if !on {
		return log
	}
	return log.WithOptions(zap.WrapCore(func(core zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(core, time.Second, logFirst, logThereafter)
	}))
}
