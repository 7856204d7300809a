package signerextension

import (
	"errors"
	"fmt"
	"strings"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// ProviderFile loads the private key from a PEM file.
const ProviderFile = "file"

// providerTPM is planned: it is recognized only to say so.
const providerTPM = "tpm"

// knownProviders are the providers available in this build.
var knownProviders = []string{ProviderFile}

// Config is the extension's configuration (README).
type Config struct {
	// Provider is where the key lives: "file" (the only provider so far).
	Provider string `mapstructure:"provider"`

	// KeyName is the signed-note key name, the name verifiers see next to
	// each signature. Default: "agentaudit-" and the host name.
	KeyName string `mapstructure:"key_name"`

	// File configures the file provider.
	File FileConfig `mapstructure:"file"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// FileConfig configures the file provider.
type FileConfig struct {
	// PrivateKey is the path of a PEM private key: PKCS#8 ("PRIVATE KEY")
	// with an Ed25519 or ECDSA P-256 key, or SEC 1 ("EC PRIVATE KEY") on
	// P-256. The file must not be readable by group or others.
	PrivateKey string `mapstructure:"private_key"`
}

func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Provider {
	case ProviderFile:
		if strings.TrimSpace(cfg.File.PrivateKey) == "" {
			errs = append(errs, errors.New("file.private_key must be set for provider file"))
		}
	case "":
		errs = append(errs, fmt.Errorf("provider must be set (known providers: %s)", strings.Join(knownProviders, ", ")))
	case providerTPM:
		errs = append(errs, fmt.Errorf("provider %q is not available in this build yet (known providers: %s)", cfg.Provider, strings.Join(knownProviders, ", ")))
	default:
		errs = append(errs, fmt.Errorf("unknown provider %q (known providers: %s)", cfg.Provider, strings.Join(knownProviders, ", ")))
	}
	if cfg.KeyName != "" && !integrity.ValidKeyName(cfg.KeyName) {
		errs = append(errs, fmt.Errorf("key_name %q must be UTF-8 without spaces or '+'", cfg.KeyName))
	}
	return errors.Join(errs...)
}
