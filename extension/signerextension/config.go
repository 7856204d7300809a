package signerextension

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
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
	if cfg.KeyName != "" && !isValidKeyName(cfg.KeyName) {
		errs = append(errs, fmt.Errorf("key_name %q must be UTF-8 without spaces or '+'", cfg.KeyName))
	}
	return errors.Join(errs...)
}

// isValidKeyName is the signed-note rule for key names
// (golang.org/x/mod/sumdb/note): non-empty UTF-8, no white space, no '+'.
func isValidKeyName(name string) bool {
	return name != "" && utf8.ValidString(name) &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// defaultKeyName is "agentaudit-" and the host name, with every character
// outside [A-Za-z0-9._-] replaced by '-'.
func defaultKeyName() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("key_name is not set and the host name is unknown (%w): set key_name", err)
	}
	return "agentaudit-" + sanitizeKeyName(host), nil
}

func sanitizeKeyName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}
