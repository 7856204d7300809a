package signerextension

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// Extension is the signer extension. Components get its Signer through
// GetSigner once the extension has started.
type Extension struct {
	cfg     *Config
	keyName string
	logger  *zap.Logger

	mu     sync.RWMutex
	signer integrity.Signer
}

var _ component.Component = (*Extension)(nil)

func newExtension(cfg *Config, keyName string, logger *zap.Logger) *Extension {
	return &Extension{cfg: cfg, keyName: keyName, logger: logger}
}

// Signer is the checkpoint signer: nil before Start and after Shutdown.
func (e *Extension) Signer() integrity.Signer {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.signer
}

// Start loads the key.
func (e *Extension) Start(context.Context, component.Host) error {
	var (
		s    integrity.Signer
		err  error
		from string
	)
	switch e.cfg.Provider {
	case ProviderFile:
		from = e.cfg.File.PrivateKey
		s, err = loadFileSigner(e.keyName, from)
	case ProviderTPM:
		from = e.cfg.TPM.Path
		if e.cfg.TPM.Endpoint != "" {
			from = "tcp://" + e.cfg.TPM.Endpoint
		}
		s, err = openTPMSigner(e.cfg.TPM, e.keyName, e.logger)
	default:
		// Validate refuses it; this guards a Config built in code.
		err = fmt.Errorf("provider %q is not available in this build", e.cfg.Provider)
	}
	if err != nil {
		return fmt.Errorf("signer: %w", err)
	}
	e.mu.Lock()
	e.signer = s
	e.mu.Unlock()
	e.logger.Info("Checkpoint signing key loaded",
		zap.String("provider", e.cfg.Provider),
		zap.String("from", from),
		zap.String("algorithm", s.Algorithm()),
		// The verifier key is public: it is what goes in a trust file.
		zap.String("verifier_key", s.VerifierKey()))
	return nil
}

// Shutdown forgets the signer. The TPM provider holds no connection
// between signatures, so there is nothing to close.
func (e *Extension) Shutdown(context.Context) error {
	e.mu.Lock()
	e.signer = nil
	e.mu.Unlock()
	return nil
}

// loadFileSigner loads a PEM private key that only its owner can read.
func loadFileSigner(name, path string) (integrity.Signer, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("private key %s is not a regular file", path)
	}
	// Windows has no such permission bits (os.Stat makes them up).
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("private key %s is readable by group or others (mode %04o): "+
			"it is the audit trail's signing credential; restrict it with chmod 600 %s", path, perm, path)
	}
	// LoadPrivateKeyFile names the path in its errors.
	key, err := integrity.LoadPrivateKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := integrity.NewKeySigner(name, key)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// GetSigner returns the signer of the started signer extension id, for a
// component that signs (call it from the component's Start). Any extension
// with a `Signer() integrity.Signer` method qualifies.
func GetSigner(host component.Host, id component.ID) (integrity.Signer, error) {
	if host == nil {
		return nil, errors.New("no host to find the signer extension in")
	}
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("signer extension %q not found: configure it and list it in service::extensions", id)
	}
	src, ok := ext.(interface{ Signer() integrity.Signer })
	if !ok {
		return nil, fmt.Errorf("extension %q is not a signer extension", id)
	}
	s := src.Signer()
	if s == nil {
		return nil, fmt.Errorf("signer extension %q has not started (or has shut down)", id)
	}
	return s, nil
}
