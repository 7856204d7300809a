package signerextension

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/agentaudit/otelcol-agentaudit/extension/signerextension/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
)

// NewFactory creates the signer extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	// KeyName stays empty here and is derived from the host name in create,
	// as the configuration documents it.
	return &Config{Provider: ProviderFile, TPM: TPMConfig{Path: DefaultTPMPath, RetryTimeout: 30 * time.Second}}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	c := cfg.(*Config)
	name := c.KeyName
	if name == "" {
		var err error
		if name, err = integrity.DefaultKeyName(); err != nil {
			return nil, fmt.Errorf("key_name is not set and the host name is unknown (%w): set key_name", err)
		}
	}
	return newExtension(c, name, set.Logger), nil
}
