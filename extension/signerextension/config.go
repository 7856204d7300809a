package signerextension

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// ProviderFile loads the private key from a PEM file.
const ProviderFile = "file"

// ProviderTPM keeps the key in a TPM 2.0.
const ProviderTPM = "tpm"

// knownProviders are the providers available in this build.
var knownProviders = []string{ProviderFile, ProviderTPM}

// DefaultTPMPath is the kernel's TPM resource manager device.
const DefaultTPMPath = "/dev/tpmrm0"

// Config is the extension's configuration (README).
type Config struct {
	// Provider is where the key lives: "file" or "tpm".
	Provider string `mapstructure:"provider"`

	// KeyName is the signed-note key name, the name verifiers see next to
	// each signature. Default: "agentaudit-" and the host name.
	KeyName string `mapstructure:"key_name"`

	// File configures the file provider.
	File FileConfig `mapstructure:"file"`

	// TPM configures the tpm provider.
	TPM TPMConfig `mapstructure:"tpm"`

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

// TPMConfig configures the tpm provider.
type TPMConfig struct {
	// Path is the TPM: a character device (default /dev/tpmrm0, the
	// kernel's resource manager) or a unix socket (swtpm --server
	// type=unixio).
	Path string `mapstructure:"path"`
	// Endpoint is host:port of a TPM simulator's command port (swtpm
	// --server type=tcp, the TCG reference simulator). When set, Path is
	// not used.
	Endpoint string `mapstructure:"endpoint"`
	// OwnerAuth and EndorsementAuth are the hierarchies' passwords, where
	// the host set any (usually empty).
	OwnerAuth       configopaque.String `mapstructure:"owner_auth"`
	EndorsementAuth configopaque.String `mapstructure:"endorsement_auth"`
	// RetryTimeout bounds how long one TPM operation keeps retrying (busy
	// TPM, lost connection, reset) before it fails. Default 30s.
	RetryTimeout time.Duration `mapstructure:"retry_timeout"`
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
	case ProviderTPM:
		if cfg.TPM.Path == "" && cfg.TPM.Endpoint == "" {
			errs = append(errs, errors.New("tpm.path or tpm.endpoint must be set for provider tpm"))
		}
		if cfg.TPM.RetryTimeout <= 0 {
			errs = append(errs, errors.New("tpm.retry_timeout must be positive"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown provider %q (known providers: %s)", cfg.Provider, strings.Join(knownProviders, ", ")))
	}
	if cfg.KeyName != "" && !integrity.ValidKeyName(cfg.KeyName) {
		errs = append(errs, fmt.Errorf("key_name %q must be UTF-8 without spaces or '+'", cfg.KeyName))
	}
	return errors.Join(errs...)
}
