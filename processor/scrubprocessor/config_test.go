package scrubprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(t *testing.T, id string) (*Config, error) {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		sub, err := cm.Sub(id)
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}

	t.Run("defaults ask for a key", func(t *testing.T) {
		cfg, err := load(t, "scrub")
		assert.ErrorContains(t, err, "hmac: content.action hmac (the default: prompts and tool output become keyed digests) needs a key")
		assert.Equal(t, ContentHMAC, cfg.Content.Action)
		assert.Equal(t, defaultContentEvents, cfg.Content.BodyOfEvents)
		assert.Contains(t, cfg.Content.BodyOfEvents, "agent_audit.source.unmapped")
		assert.Equal(t, defaultContentAttributes, cfg.Content.Attributes)
		for _, a := range []string{"prompt", "output", "agent_audit.compact.instructions"} {
			assert.Contains(t, cfg.Content.Attributes, a)
		}
		assert.True(t, cfg.ResourceAttributes)
		assert.Equal(t, "agent_audit.scrub.findings", cfg.ReportAttribute)
		for _, typ := range []string{"github_pat", "pii_email", "pii_phone", "password_assignment"} {
			assert.Equal(t, ActionMask, cfg.actionFor(typ), typ)
		}
	})

	t.Run("defaults with a key", func(t *testing.T) {
		_, err := load(t, "scrub/keyed")
		require.NoError(t, err)
	})

	t.Run("raw content needs no key", func(t *testing.T) {
		_, err := load(t, "scrub/raw")
		require.NoError(t, err)
	})

	t.Run("custom", func(t *testing.T) {
		cfg, err := load(t, "scrub/custom")
		require.NoError(t, err)
		assert.Equal(t, ActionHMAC, cfg.actionFor("github_pat_classic"))
		assert.Equal(t, ActionDropAttribute, cfg.actionFor("aws_access_key_id"))
		assert.Equal(t, ActionDropRecord, cfg.actionFor("pii_us_ssn"))
		assert.Equal(t, ActionMask, cfg.actionFor("pii_phone"), "a type action overrides its class")
		assert.Equal(t, ActionHMAC, cfg.actionFor("pii_email"))
		assert.Equal(t, "2026-11", cfg.HMAC.KeyID)
		assert.Equal(t, []string{"agent_audit.tool.result"}, cfg.Content.KeepRawEvents)
		assert.False(t, cfg.ResourceAttributes)
		opts := cfg.detectorOptions()
		assert.NotContains(t, opts.DisabledTypes, "pii_phone", "pii_phone is kept by its type action")
		assert.Equal(t, []string{"ops@example.com"}, opts.AllowValues)
	})

	t.Run("bad", func(t *testing.T) {
		_, err := load(t, "scrub/bad")
		require.Error(t, err)
		for _, want := range []string{
			`actions: unknown class "secrets"`,
			`actions.email: unknown action "blur"`,
			`type_actions: unknown finding type "no_such_type"`,
			"allow.patterns: error parsing regexp",
			`content.action: unknown action "encrypt"`,
			`hmac.key_id: "has space"`,
			"hmac: set key_file or key_env, not both",
			"report_attribute: audit.* is reserved",
		} {
			assert.ErrorContains(t, err, want)
		}
	})
}

func TestIgnoreDisablesDetection(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Actions = map[string]Action{"phone": ActionIgnore, "secret": ActionIgnore}
	cfg.TypeActions = map[string]Action{"github_pat_classic": ActionMask}
	opts := cfg.detectorOptions()
	assert.Contains(t, opts.DisabledTypes, "pii_phone")
	assert.Contains(t, opts.DisabledTypes, "slack_bot_token")
	assert.NotContains(t, opts.DisabledTypes, "github_pat_classic")
	assert.NotContains(t, opts.DisabledTypes, "pii_email")
}
