package agentnormalizeprocessor

import (
	"context"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
	"github.com/agentaudit/otelcol-agentaudit/processor/agentnormalizeprocessor/internal/metadata"
)

// What this processor writes on a record of a known source that it cannot
// map (docs/schema.md, "Unmapped events: the convention").
const (
	// UnmappedEvent is the EventName such a record gets.
	UnmappedEvent = "agent_audit.source.unmapped"
	// AttrSourceEvent holds the event's name at its source, e.g.
	// claude_code.api_refusal.
	AttrSourceEvent = "agent_audit.source.event"
	// AttrUnmapped holds the reason code (unknown_event, missing_attribute,
	// wrong_type, invalid_value), the metric's reason label.
	AttrUnmapped = "agent_audit.unmapped"
	// AttrUnmappedDetail holds the reason in words.
	AttrUnmappedDetail = "agent_audit.unmapped_detail"
	// attrOrigEventName keeps a non-empty original EventName that the
	// unmapped event name replaces (Codex writes a code location there).
	attrOrigEventName = defaultOriginalPrefix + origEventName
)

// Attributes this processor reads besides the agents' own.
const (
	// attrEventName is the attribute that OpenTelemetry event emitters
	// (Claude Code, Codex) put the event name in.
	attrEventName = "event.name"
)

// Keys under the original prefix that do not come from attributes.
const (
	origBody      = "body"
	origEventName = "event_name"
	origScopeName = "scope.name"
	origScopeVer  = "scope.version"
)

// eventNameShape is what an event name of a source looks like. A body or
// attribute that merely starts with "codex." (a prompt, say) is not one.
var eventNameShape = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z0-9_.]+$`)

// claudeScopePrefix is the instrumentation scope of Claude Code's events.
// Claude Code writes event.name without the "claude_code." prefix (the
// prefixed name goes in the body); when the body is missing too, the scope
// still tells the record's origin.
const claudeScopePrefix = "com.anthropic.claude_code"

type normalizer struct {
	cfg     *Config
	enabled map[string]bool
	prefix  string // "" when originals are dropped
	tb      *metadata.TelemetryBuilder
	logger  *zap.Logger
}

func newNormalizer(cfg *Config, set processor.Settings) (*normalizer, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	n := &normalizer{cfg: cfg, enabled: map[string]bool{}, tb: tb, logger: set.Logger}
	for _, s := range cfg.Sources {
		n.enabled[s] = true
	}
	if cfg.KeepOriginal == KeepPrefix {
		n.prefix = cfg.OriginalPrefix
	}
	return n, nil
}

type countKey struct{ source, label string }

func (n *normalizer) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	normalized := map[countKey]int64{}
	unmapped := map[countKey]int64{}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		scopes := rl.ScopeLogs()
		// Normalized records move to a scope of their own (appended below),
		// so only the scopes that were there on entry are walked.
		for i, end := 0, scopes.Len(); i < end; i++ {
			sl := scopes.At(i)
			var out plog.ScopeLogs
			haveOut := false
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				src, name, ok := n.detect(sl.Scope(), lr)
				if !ok {
					return false
				}
				ev, fail := n.mapRecord(src, name, lr, res)
				if fail != nil {
					markUnmapped(name, lr, fail)
					unmapped[countKey{src, fail.code}]++
					n.logger.Debug("agent event left unmapped", zap.String("source", src),
						zap.String("event", name), zap.String("reason", fail.text))
					return false
				}
				if !haveOut {
					out = scopes.AppendEmpty()
					n.setAuditScope(out, sl.Scope())
					haveOut = true
				}
				normalized[countKey{src, ev.EventName()}]++
				ev.MoveTo(out.LogRecords().AppendEmpty())
				return true
			})
		}
		// A scope whose records all moved would reach the archive empty.
		scopes.RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
	}
	for k, v := range normalized {
		n.tb.ProcessorAgentnormalizeRecordsNormalized.Add(ctx, v, metric.WithAttributeSet(
			attribute.NewSet(attribute.String("source", k.source), attribute.String("event", k.label))))
	}
	for k, v := range unmapped {
		n.tb.ProcessorAgentnormalizeRecordsUnmapped.Add(ctx, v, metric.WithAttributeSet(
			attribute.NewSet(attribute.String("source", k.source), attribute.String("reason", k.label))))
	}
	return ld, nil
}

// markUnmapped turns lr into an agent_audit.source.unmapped record: event
// name, severity and the three attributes of the convention. Its original
// attributes, body, time stamps, trace context and scope stay as the agent
// sent them, so nothing is lost; it is not checked against the schema (what
// is missing may be session.id itself).
func markUnmapped(name string, lr plog.LogRecord, f *failure) {
	a := lr.Attributes()
	if orig := lr.EventName(); orig != "" && orig != name {
		a.PutStr(attrOrigEventName, orig)
	}
	lr.SetEventName(UnmappedEvent)
	auditrecord.SetSeverity(lr, UnmappedEvent)
	a.PutStr(AttrSourceEvent, name)
	a.PutStr(AttrUnmapped, f.code)
	a.PutStr(AttrUnmappedDetail, f.text)
}

// setAuditScope makes dst the scope the receiver writes on audit records,
// so that a normalized record, like a native one, states the schema version
// it was checked against. The agent's own scope is kept under the prefix.
func (n *normalizer) setAuditScope(dst plog.ScopeLogs, orig pcommon.InstrumentationScope) {
	dst.Scope().SetName(auditrecord.ScopeName)
	dst.Scope().Attributes().PutStr(auditrecord.AttrSchemaVersion, auditrecord.SchemaVersion)
	if n.prefix == "" {
		return
	}
	if orig.Name() != "" {
		dst.Scope().Attributes().PutStr(n.prefix+origScopeName, orig.Name())
	}
	if orig.Version() != "" {
		dst.Scope().Attributes().PutStr(n.prefix+origScopeVer, orig.Version())
	}
}

// detect tells whether lr is an event of an enabled source, and its name.
// The name may be in EventName, in the event.name attribute or in the body
// (Claude Code puts "claude_code.x" in the body and "x" in event.name;
// Codex's tracing bridge puts "codex.x" in event.name and a code location
// in EventName), so each is tried in turn.
func (n *normalizer) detect(scope pcommon.InstrumentationScope, lr plog.LogRecord) (string, string, bool) {
	if strings.HasPrefix(lr.EventName(), auditrecord.EventNamePrefix) {
		return "", "", false // already an audit event
	}
	attrs := lr.Attributes()
	if _, chained := attrs.Get("audit.stream.id"); chained {
		// Chained upstream: any change here would break its link.
		return "", "", false
	}
	if _, marked := attrs.Get(AttrUnmapped); marked {
		return "", "", false // an upstream collector tried already
	}
	candidates := []string{lr.EventName()}
	if v, ok := attrs.Get(attrEventName); ok && v.Type() == pcommon.ValueTypeStr {
		candidates = append(candidates, v.Str())
	}
	if lr.Body().Type() == pcommon.ValueTypeStr {
		candidates = append(candidates, lr.Body().Str())
	}
	for _, c := range candidates {
		if !eventNameShape.MatchString(c) {
			continue
		}
		for _, src := range knownSources {
			if strings.HasPrefix(c, src+".") {
				return src, c, n.enabled[src]
			}
		}
	}
	if strings.HasPrefix(scope.Name(), claudeScopePrefix) {
		if v, ok := attrs.Get(attrEventName); ok && v.Type() == pcommon.ValueTypeStr && v.Str() != "" && !strings.Contains(v.Str(), ".") {
			return SourceClaudeCode, SourceClaudeCode + "." + v.Str(), n.enabled[SourceClaudeCode]
		}
	}
	return "", "", false
}

// mapRecord builds the audit event for lr, or says why it cannot.
func (n *normalizer) mapRecord(src, name string, lr plog.LogRecord, res pcommon.Map) (plog.LogRecord, *failure) {
	ev := plog.NewLogRecord()
	b := &builder{orig: lr.Attributes(), res: res, out: ev.Attributes(), body: ev.Body(), moved: map[string]bool{}}
	var eventType string
	switch src {
	case SourceClaudeCode:
		eventType = mapClaude(b, name)
	case SourceCodex:
		eventType = mapCodex(b, name)
	}
	if b.fail != nil {
		return ev, b.fail
	}
	if f := validate(eventType, ev.Attributes()); f != nil {
		return ev, f
	}
	ts := lr.Timestamp()
	if ts == 0 {
		if s, ok := b.str("event.timestamp"); ok && s != "" {
			t, err := parseTime(s)
			if err != nil {
				return ev, &failure{code: reasonInvalidValue, text: "attribute event.timestamp: " + err.Error()}
			}
			ts = pcommon.NewTimestampFromTime(t)
		} else if b.fail != nil {
			return ev, b.fail
		}
	}
	ev.SetEventName(eventType)
	ev.SetTimestamp(ts)
	ev.SetObservedTimestamp(lr.ObservedTimestamp())
	ev.SetTraceID(lr.TraceID())
	ev.SetSpanID(lr.SpanID())
	ev.SetFlags(lr.Flags())
	auditrecord.SetSeverity(ev, eventType)
	if n.prefix != "" {
		n.keepOriginal(lr, ev, b.moved)
	}
	return ev, nil
}

// keepOriginal copies what the agent sent under the prefix. Content that
// the mapping moved into the body or gen_ai.tool.call.result is not
// copied: there the scrub processor digests it, under the prefix it would
// stay raw.
func (n *normalizer) keepOriginal(lr, ev plog.LogRecord, moved map[string]bool) {
	dst := ev.Attributes()
	for k, v := range lr.Attributes().All() {
		if moved[k] {
			continue
		}
		v.CopyTo(dst.PutEmpty(n.keptName(dst, k)))
	}
	if lr.Body().Type() != pcommon.ValueTypeEmpty {
		lr.Body().CopyTo(dst.PutEmpty(n.prefix + origBody))
	}
	if lr.EventName() != "" {
		dst.PutStr(n.prefix+origEventName, lr.EventName())
	}
}

// keptName is where the original attribute k is kept. A prefixed name that
// the schema defines (agent_audit.source.event), that the mapping wrote, or
// that holds the original body or EventName would pass for, or be
// overwritten by, something else: such an original moves one level down,
// as in the genai connector.
func (n *normalizer) keptName(dst pcommon.Map, k string) string {
	name := n.prefix + k
	_, taken := dst.Get(name)
	if _, defined := auditrecord.AttributeSpecOf(name); taken || defined || k == origBody || k == origEventName {
		return n.prefix + "attributes." + k
	}
	return name
}
