package scrubprocessor

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/component"

	"github.com/agentaudit/otelcol-agentaudit/pkg/secrets"
)

// Action is what the processor does with a finding.
type Action string

// The actions. Ignore switches detection of a class or type off.
const (
	ActionMask          Action = "mask"           // the finding becomes [REDACTED:<type>]
	ActionHMAC          Action = "hmac"           // the finding becomes [HMAC:<type>:<key id>:<digest>]
	ActionDropAttribute Action = "drop_attribute" // the attribute holding it is removed (the body is emptied)
	ActionDropRecord    Action = "drop_record"    // the whole record is dropped
	ActionIgnore        Action = "ignore"         // not detected at all
)

// severity orders actions when one value holds findings with different
// actions: the strongest wins for the value (drop_record > drop_attribute >
// per-finding replacement).
func (a Action) severity() int {
	switch a {
	case ActionDropRecord:
		return 3
	case ActionDropAttribute:
		return 2
	case ActionMask, ActionHMAC:
		return 1
	}
	return 0
}

func (a Action) valid() bool { return a.severity() > 0 || a == ActionIgnore }

// ContentAction is what the processor does with Tier 2 content (prompts,
// model messages, tool output).
type ContentAction string

// The content actions.
const (
	ContentHMAC ContentAction = "hmac" // replaced by its keyed HMAC-SHA256 digest
	ContentKeep ContentAction = "keep" // kept raw, but still scrubbed for secrets and PII
)

// Config is the scrub processor's configuration.
type Config struct {
	// Actions per class: secret, email, payment_card, iban, us_ssn, phone.
	// A class not listed is masked.
	Actions map[string]Action `mapstructure:"actions"`
	// TypeActions override Actions for single finding types (type ids as in
	// pkg/secrets/README.md), e.g. pii_email: hmac or aws_access_key_id: drop_record.
	TypeActions map[string]Action `mapstructure:"type_actions"`

	// Where to look. The log body and record attributes are always
	// scanned; resource and scope attributes when these say so.
	ResourceAttributes bool `mapstructure:"resource_attributes"`
	ScopeAttributes    bool `mapstructure:"scope_attributes"`

	// Allow lists what is never reported.
	Allow AllowConfig `mapstructure:"allow"`

	// Content says what happens to Tier 2 content.
	Content ContentConfig `mapstructure:"content"`

	// HMAC is the key for pseudonyms (action hmac) and content digests.
	HMAC HMACConfig `mapstructure:"hmac"`

	// ReportAttribute names the record attribute (a map type id -> count)
	// that tells how many findings of which type the record had. Never the
	// values. Default agent_audit.scrub.findings.
	ReportAttribute string `mapstructure:"report_attribute"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// AllowConfig lists exceptions. They apply to secrets and PII alike.
type AllowConfig struct {
	// Values: exact finding texts never reported (a test account's e-mail).
	Values []string `mapstructure:"values"`
	// Patterns: RE2 expressions; a finding whose whole text matches one is
	// not reported.
	Patterns []string `mapstructure:"patterns"`
	// Keys: attribute or map keys (any depth, case-insensitive) whose values
	// are left alone entirely, e.g. a field that holds a public key id.
	Keys []string `mapstructure:"keys"`
}

// ContentConfig picks the Tier 2 content and what happens to it.
type ContentConfig struct {
	// Action: hmac (default) replaces each content value by
	// [HMAC:content:<key id>:<hex HMAC-SHA256>]; keep leaves it raw (still
	// scrubbed).
	Action ContentAction `mapstructure:"action"`
	// BodyOfEvents: event names whose log body is content.
	BodyOfEvents []string `mapstructure:"body_of_events"`
	// Attributes: record attributes that are content, whatever the event.
	Attributes []string `mapstructure:"attributes"`
	// KeepRawEvents: event names whose content stays raw although Action is
	// hmac (still scrubbed): the "raw only where the config says so" list.
	KeepRawEvents []string `mapstructure:"keep_raw_events"`
}

// HMACConfig holds the HMAC key. Exactly one of KeyFile and KeyEnv.
type HMACConfig struct {
	// KeyID goes into every pseudonym and digest so that keys can rotate:
	// tokens made under different keys never look alike by accident.
	// Letters, digits, '.', '_' and '-'; default k1.
	KeyID string `mapstructure:"key_id"`
	// KeyFile: a file holding the key (at least 32 bytes; surrounding
	// white space is ignored, so `head -c 32 /dev/urandom | base64` works).
	KeyFile string `mapstructure:"key_file"`
	// CreateKeyFile makes KeyFile with a new random key (mode 0600) when it
	// does not exist. For a single host; gateways that must produce the same
	// pseudonyms need the same key file on each.
	CreateKeyFile bool `mapstructure:"create_key_file"`
	// KeyEnv: an environment variable holding the key (at least 32 bytes).
	KeyEnv string `mapstructure:"key_env"`
}

// Content attributes and bodies by default: what a person or a model wrote
// and what a tool returned. Tool arguments stay (scrubbed): they are the
// evidence of what the agent did.
//
// agent_audit.source.unmapped carries a source's raw payload in its body
// (a hook payload, a whole GenAI span: prompts, messages, tool output).
// prompt and output are the Claude Code / Codex OTLP attributes of the
// prompt and the tool output, which stay on a record the agentnormalize
// processor cannot map. agent_audit.compact.instructions is what the person
// told the agent for a compaction (a Claude Code hook field).
var (
	defaultContentEvents = []string{
		"agent_audit.prompt", "agent_audit.model.request", "agent_audit.model.response", "agent_audit.tool.result",
		"agent_audit.source.unmapped",
	}
	defaultContentAttributes = []string{
		"gen_ai.tool.call.result", "gen_ai.input.messages", "gen_ai.output.messages",
		"gen_ai.system_instructions", "gen_ai.prompt", "gen_ai.completion",
		"prompt", "output", "agent_audit.compact.instructions",
	}
)

const (
	defaultReportAttribute = "agent_audit.scrub.findings"
	defaultKeyID           = "k1"
	minKeyBytes            = 32
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

var _ component.Config = (*Config)(nil)

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	classes := map[string]bool{}
	for _, cl := range secrets.Classes() {
		classes[string(cl)] = true
	}
	for name, a := range c.Actions {
		if !classes[name] {
			errs = append(errs, fmt.Errorf("actions: unknown class %q (one of %s)", name, classList()))
		}
		if !a.valid() {
			errs = append(errs, fmt.Errorf("actions.%s: unknown action %q (mask, hmac, drop_attribute, drop_record, ignore)", name, a))
		}
	}
	for name, a := range c.TypeActions {
		if secrets.TypeClass(name) == "" {
			errs = append(errs, fmt.Errorf("type_actions: unknown finding type %q (pkg/secrets/README.md lists them)", name))
		}
		if !a.valid() {
			errs = append(errs, fmt.Errorf("type_actions.%s: unknown action %q (mask, hmac, drop_attribute, drop_record, ignore)", name, a))
		}
	}
	for _, p := range c.Allow.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, fmt.Errorf("allow.patterns: %w", err))
		}
	}
	switch c.Content.Action {
	case ContentHMAC, ContentKeep:
	default:
		errs = append(errs, fmt.Errorf("content.action: unknown action %q (hmac or keep)", c.Content.Action))
	}
	if c.HMAC.KeyID != "" && !keyIDPattern.MatchString(c.HMAC.KeyID) {
		errs = append(errs, fmt.Errorf("hmac.key_id: %q: use 1 to 32 letters, digits, '.', '_' or '-'", c.HMAC.KeyID))
	}
	switch {
	case c.HMAC.KeyFile != "" && c.HMAC.KeyEnv != "":
		errs = append(errs, errors.New("hmac: set key_file or key_env, not both"))
	case c.HMAC.KeyFile == "" && c.HMAC.KeyEnv == "" && c.needsKey():
		errs = append(errs, fmt.Errorf("hmac: %s needs a key: set hmac.key_file (with create_key_file: true to make one) or hmac.key_env, or choose other actions", c.keyUser()))
	case c.HMAC.CreateKeyFile && c.HMAC.KeyFile == "":
		errs = append(errs, errors.New("hmac.create_key_file needs hmac.key_file"))
	}
	if c.ReportAttribute == "" {
		errs = append(errs, errors.New("report_attribute: must not be empty (default agent_audit.scrub.findings)"))
	} else if strings.HasPrefix(c.ReportAttribute, "audit.") {
		errs = append(errs, errors.New("report_attribute: audit.* is reserved for integrity attributes"))
	}
	return errors.Join(errs...)
}

// needsKey: does any configured action use the HMAC key?
func (c *Config) needsKey() bool { return c.keyUser() != "" }

func (c *Config) keyUser() string {
	if c.Content.Action == ContentHMAC && (len(c.Content.BodyOfEvents) > 0 || len(c.Content.Attributes) > 0) {
		return "content.action hmac (the default: prompts and tool output become keyed digests)"
	}
	for name, a := range c.Actions {
		if a == ActionHMAC {
			return "actions." + name + ": hmac"
		}
	}
	for name, a := range c.TypeActions {
		if a == ActionHMAC {
			return "type_actions." + name + ": hmac"
		}
	}
	return ""
}

func classList() string {
	var names []string
	for _, cl := range secrets.Classes() {
		names = append(names, string(cl))
	}
	return strings.Join(names, ", ")
}

// actionFor returns the action for a finding type: the type's own, else its
// class's, else mask.
func (c *Config) actionFor(typ string) Action {
	if a, ok := c.TypeActions[typ]; ok {
		return a
	}
	if a, ok := c.Actions[string(secrets.TypeClass(typ))]; ok {
		return a
	}
	return ActionMask
}

// detectorOptions turns ignore actions and the allow list into detector
// options.
func (c *Config) detectorOptions() secrets.Options {
	opts := secrets.Options{
		AllowValues:   slices.Clone(c.Allow.Values),
		AllowPatterns: slices.Clone(c.Allow.Patterns),
	}
	// Types one by one, not whole classes: a type_actions entry may keep
	// one type of an ignored class.
	for _, t := range secrets.Types() {
		if c.actionFor(t.ID) == ActionIgnore {
			opts.DisabledTypes = append(opts.DisabledTypes, t.ID)
		}
	}
	return opts
}
