package genaiconnector

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/agentaudit/otelcol-agentaudit/connector/genaiconnector/internal/metadata"
	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// SemconvVersion is the version of the OpenTelemetry semantic conventions
// whose GenAI spans and events the mapping follows (README.md, Sources).
const SemconvVersion = "1.41.0"

// Names the connector writes beside the schema's attributes
// (docs/schema.md, "OpenTelemetry GenAI spans").
const (
	// unmappedEvent is the schema's event type for what a source sends
	// that maps to no other type; agent_audit.source.event names it.
	unmappedEvent   = "agent_audit.source.unmapped"
	sourceEventAttr = "agent_audit.source.event"
	// unmappedAttr holds the reason code; the detail sits in a sibling name,
	// not below it, because a field cannot be both a value and an object in
	// ECS/Elasticsearch mappings.
	unmappedAttr   = "agent_audit.unmapped"
	unmappedDetail = "agent_audit.unmapped_detail"
	spanAttrPrefix = "agent_audit.span."
	// scopeSemconvAttr names, on the scope of converted records, the
	// semantic conventions version the mapping follows.
	scopeSemconvAttr = "agent_audit.genai.semconv_version"
)

// Reasons of unmapped records (attribute agent_audit.unmapped and the reason
// label of connector_genai_records_unmapped).
const (
	reasonNotGenAI             = "not_genai"
	reasonMissingOperation     = "missing_operation"
	reasonUnknownOperation     = "unknown_operation"
	reasonUnsupportedOperation = "unsupported_operation"
	reasonMissingAttribute     = "missing_attribute"
	reasonWrongType            = "wrong_type"
	reasonInvalidValue         = "invalid_value"
	reasonInvalidSpan          = "invalid_span"
	reasonUnknownSpanEvent     = "unknown_span_event"
)

// unknownSession is the session.id of a record whose span has neither a
// conversation id nor a trace id: such a span is invalid, and its record
// still needs a stream.
const unknownSession = "unknown"

// unknownSourceEvent is the agent_audit.source.event of an unmapped record
// whose span or span event has a blank name.
const unknownSourceEvent = "unknown"

// opMapping says which audit events one gen_ai.operation.name becomes and
// which span attributes each of the two records takes.
type opMapping struct {
	startEvent, endEvent string
	start, end           []string
	// required must be present on the span (and non-blank when a string):
	// the schema requires them on startEvent or endEvent.
	required []string
}

// shared attributes go on both records of a span.
var shared = []string{
	"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.conversation.id",
	"gen_ai.agent.id", "gen_ai.agent.name", "user.id", "user.name", "host.id", "host.name",
}

var inference = opMapping{
	startEvent: "agent_audit.model.request",
	endEvent:   "agent_audit.model.response",
	start: []string{"gen_ai.request.model", "gen_ai.request.max_tokens", "gen_ai.request.temperature",
		"server.address", "server.port", "gen_ai.input.messages", "gen_ai.system_instructions"},
	end: []string{"gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id",
		"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons",
		"gen_ai.output.messages", "error.type"},
	required: []string{"gen_ai.request.model"},
}

var operations = map[string]opMapping{
	"invoke_agent": {
		startEvent: "agent_audit.session.start",
		endEvent:   "agent_audit.session.end",
		start:      []string{"gen_ai.request.model", "gen_ai.input.messages", "gen_ai.system_instructions"},
		end: []string{"gen_ai.response.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
			"gen_ai.output.messages", "error.type"},
	},
	"execute_tool": {
		startEvent: "agent_audit.tool.call",
		endEvent:   "agent_audit.tool.result",
		start:      []string{"gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type", "gen_ai.tool.call.arguments"},
		end:        []string{"gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.call.result", "error.type"},
		required:   []string{"gen_ai.tool.name"},
	},
	"chat":             inference,
	"text_completion":  inference,
	"generate_content": inference,
	"embeddings":       inference,
}

// unsupportedOperations are defined by the GenAI conventions but have no
// event type in schema 1.0.0; their spans are recorded as unmapped.
var unsupportedOperations = map[string]bool{
	"create_agent": true, "invoke_workflow": true, "retrieval": true,
	"create_memory_store": true, "search_memory": true, "update_memory": true,
	"delete_memory": true, "delete_memory_store": true,
}

// Span events the mapping reads.
const (
	eventOperationDetails = "gen_ai.client.inference.operation.details"
	eventException        = "exception"
	eventContentPrompt    = "gen_ai.content.prompt"
	eventContentComplete  = "gen_ai.content.completion"
	eventChoice           = "gen_ai.choice"
)

// legacyInputEvents are the per-message events of semantic conventions
// 1.28 to 1.36, kept by many instrumentations as span events.
var legacyInputEvents = map[string]bool{
	"gen_ai.system.message": true, "gen_ai.user.message": true,
	"gen_ai.assistant.message": true, "gen_ai.tool.message": true,
}

type stats struct {
	converted map[string]int64
	unmapped  map[string]int64
	skipped   int64
}

// converter turns one traces batch into one logs batch.
type converter struct {
	cfg      *Config
	observed time.Time
	stats    stats
}

func (cv *converter) convert(td ptrace.Traces) plog.Logs {
	cv.stats = stats{converted: map[string]int64{}, unmapped: map[string]int64{}}
	ld := plog.NewLogs()
	for _, rs := range td.ResourceSpans().All() {
		rl := plog.NewResourceLogs()
		rs.Resource().CopyTo(rl.Resource())
		rl.SetSchemaUrl(rs.SchemaUrl())
		for _, ss := range rs.ScopeSpans().All() {
			sl := plog.NewScopeLogs()
			cv.setScope(sl.Scope(), ss.Scope())
			for _, span := range ss.Spans().All() {
				cv.span(span, sl.LogRecords())
			}
			if sl.LogRecords().Len() > 0 {
				sl.MoveTo(rl.ScopeLogs().AppendEmpty())
			}
		}
		if rl.ScopeLogs().Len() > 0 {
			rl.MoveTo(ld.ResourceLogs().AppendEmpty())
		}
	}
	return ld
}

// setScope names this connector as the records' producer, with the schema
// version the records follow, and keeps the instrumentation scope that
// recorded the spans.
func (cv *converter) setScope(dst pcommon.InstrumentationScope, src pcommon.InstrumentationScope) {
	dst.SetName(metadata.ScopeName)
	a := dst.Attributes()
	a.PutStr(auditrecord.AttrSchemaVersion, auditrecord.SchemaVersion)
	a.PutStr(scopeSemconvAttr, SemconvVersion)
	if src.Name() != "" {
		a.PutStr(cv.cfg.OriginalPrefix+"scope.name", src.Name())
	}
	if src.Version() != "" {
		a.PutStr(cv.cfg.OriginalPrefix+"scope.version", src.Version())
	}
}

// span converts one span: two records of the documented types, or one
// unmapped record, plus one unmapped record per span event it does not know.
func (cv *converter) span(span ptrace.Span, out plog.LogRecordSlice) {
	attrs := span.Attributes()
	session, sessionOK := sessionOf(span)
	if !isGenAI(span) {
		if cv.cfg.EmitNonGenAI {
			cv.unmappedSpan(out, span, session, reasonNotGenAI, "the span has no gen_ai.* attribute or event")
		} else {
			cv.stats.skipped++
		}
		return
	}
	opv, ok := attrs.Get("gen_ai.operation.name")
	if !ok {
		cv.unmappedSpan(out, span, session, reasonMissingOperation, "the span has gen_ai.* attributes but no gen_ai.operation.name")
		return
	}
	if opv.Type() != pcommon.ValueTypeStr {
		cv.unmappedSpan(out, span, session, reasonWrongType, "gen_ai.operation.name must be a string, got "+auditrecord.Kind(opv))
		return
	}
	op := opv.Str()
	m, known := operations[op]
	switch {
	case unsupportedOperations[op]:
		cv.unmappedSpan(out, span, session, reasonUnsupportedOperation,
			fmt.Sprintf("gen_ai.operation.name %q has no audit event type in the schema", op))
		return
	case !known:
		cv.unmappedSpan(out, span, session, reasonUnknownOperation, fmt.Sprintf("unknown gen_ai.operation.name %q", op))
		return
	}
	if detail := spanTimeProblem(span); detail != "" {
		cv.unmappedSpan(out, span, session, reasonInvalidSpan, detail)
		return
	}
	if !sessionOK {
		cv.unmappedSpan(out, span, session, reasonInvalidSpan, "the span has no trace id and no gen_ai.conversation.id")
		return
	}
	used := map[string]bool{}
	for _, list := range [][]string{shared, m.start, m.end} {
		for _, name := range list {
			v, ok := attrs.Get(name)
			if !ok {
				continue
			}
			if reason, detail := checkValue(name, v); reason != "" {
				cv.unmappedSpan(out, span, session, reason, detail)
				return
			}
			used[name] = true
		}
	}
	for _, name := range m.required {
		v, ok := attrs.Get(name)
		if !ok {
			cv.unmappedSpan(out, span, session, reasonMissingAttribute,
				fmt.Sprintf("%s is required for %s and missing", name, m.startEvent))
			return
		}
		if v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) == "" {
			cv.unmappedSpan(out, span, session, reasonMissingAttribute,
				fmt.Sprintf("%s is required for %s and empty", name, m.startEvent))
			return
		}
	}
	// Before 1.37 the provider was gen_ai.system.
	provider := ""
	if _, ok := attrs.Get("gen_ai.provider.name"); !ok {
		if v, ok := attrs.Get("gen_ai.system"); ok && v.Type() == pcommon.ValueTypeStr {
			provider = v.Str()
			used["gen_ai.system"] = true
		}
	}

	recs := plog.NewLogRecordSlice()
	start := cv.newRecord(recs, m.startEvent, span.StartTimestamp(), span, session)
	end := cv.newRecord(recs, m.endEvent, span.EndTimestamp(), span, session)
	copyAttrs(attrs, start.Attributes(), shared, m.start)
	copyAttrs(attrs, end.Attributes(), shared, m.end)
	if provider != "" {
		start.Attributes().PutStr("gen_ai.provider.name", provider)
		end.Attributes().PutStr("gen_ai.provider.name", provider)
	}

	failed := span.Status().Code() == ptrace.StatusCodeError
	if v, ok := attrs.Get("error.type"); ok && v.Str() != "" {
		// A string: checkValue has typed it.
		failed = true
	}
	ea := end.Attributes()
	if failed {
		ea.PutStr(auditrecord.AttrOutcome, "failure")
	} else {
		ea.PutStr(auditrecord.AttrOutcome, "success")
	}
	if msg := span.Status().Message(); msg != "" {
		ea.PutStr("agent_audit.reason", msg)
	}
	switch m.endEvent {
	case "agent_audit.session.end":
		reason := "completed"
		if failed {
			reason = "error"
		}
		ea.PutStr("agent_audit.session.end_reason", reason)
	default:
		ea.PutInt("agent_audit.duration_ms", int64(span.EndTimestamp()-span.StartTimestamp())/int64(time.Millisecond))
	}

	inferenceOp := m.startEvent == inference.startEvent
	startBody, endBody := pcommon.NewValueSlice(), pcommon.NewValueSlice()
	for _, ev := range span.Events().All() {
		if reason, detail := cv.event(ev, start, end, startBody, endBody, inferenceOp); reason != "" {
			cv.unmappedEvent(out, span, ev, session, reason, detail)
		}
	}
	if startBody.Slice().Len() > 0 {
		startBody.CopyTo(start.Body())
	}
	if endBody.Slice().Len() > 0 {
		endBody.CopyTo(end.Body())
	}

	if cv.cfg.KeepOriginal == KeepPrefix {
		for k, v := range attrs.All() {
			if !used[k] {
				v.CopyTo(ea.PutEmpty(cv.keptName(k)))
			}
		}
	}

	// The schema tables are the authority: should they come to require
	// more than this mapping writes, the span is recorded as unmapped rather
	// than as a record the schema refuses.
	for _, lr := range recs.All() {
		if name := missingRequired(lr); name != "" {
			cv.unmappedSpan(out, span, session, reasonMissingAttribute,
				fmt.Sprintf("%s is required for %s and the mapping does not provide it", name, lr.EventName()))
			return
		}
	}
	recs.MoveAndAppendTo(out)
	cv.stats.converted[op]++
}

// event applies one span event of a mapped span to its records. It returns
// a reason when the event is to be recorded on its own as unmapped.
func (cv *converter) event(ev ptrace.SpanEvent, start, end plog.LogRecord, startBody, endBody pcommon.Value, inferenceOp bool) (string, string) {
	ea := ev.Attributes()
	name := ev.Name()
	switch {
	case name == eventOperationDetails:
		// The event's other attributes repeat the span's; its content
		// attributes are what the span lacks when content goes to events.
		for _, k := range []string{"gen_ai.input.messages", "gen_ai.system_instructions"} {
			if v, ok := ea.Get(k); ok {
				if _, have := start.Attributes().Get(k); !have {
					v.CopyTo(start.Attributes().PutEmpty(k))
				}
			}
		}
		if v, ok := ea.Get("gen_ai.output.messages"); ok {
			if _, have := end.Attributes().Get("gen_ai.output.messages"); !have {
				v.CopyTo(end.Attributes().PutEmpty("gen_ai.output.messages"))
			}
		}
	case name == eventException:
		msg, hasMsg := ea.Get("exception.message")
		typ, hasType := ea.Get("exception.type")
		if (hasMsg && msg.Type() != pcommon.ValueTypeStr) || (hasType && typ.Type() != pcommon.ValueTypeStr) {
			return reasonWrongType, "exception.message and exception.type must be strings"
		}
		if hasMsg {
			end.Attributes().PutStr("exception.message", msg.Str())
		}
		if _, have := end.Attributes().Get("error.type"); hasType && !have && typ.Str() != "" {
			end.Attributes().PutStr("error.type", typ.Str())
		}
	case name == eventContentPrompt:
		if v, ok := ea.Get("gen_ai.prompt"); ok {
			v.CopyTo(start.Attributes().PutEmpty("gen_ai.prompt"))
		}
	case name == eventContentComplete:
		if v, ok := ea.Get("gen_ai.completion"); ok {
			v.CopyTo(end.Attributes().PutEmpty("gen_ai.completion"))
		}
	case inferenceOp && legacyInputEvents[name]:
		appendEvent(startBody, ev)
	case inferenceOp && name == eventChoice:
		appendEvent(endBody, ev)
	default:
		return reasonUnknownSpanEvent, fmt.Sprintf("span event %q is not part of the mapping for this operation", name)
	}
	return "", ""
}

// appendEvent adds {"name": ..., "attributes": {...}} to a body slice: the
// message events of one request (or the choices of one response) in order.
func appendEvent(body pcommon.Value, ev ptrace.SpanEvent) {
	m := body.Slice().AppendEmpty().SetEmptyMap()
	m.PutStr("name", ev.Name())
	ev.Attributes().CopyTo(m.PutEmptyMap("attributes"))
}

func (cv *converter) newRecord(out plog.LogRecordSlice, event string, ts pcommon.Timestamp, span ptrace.Span, session string) plog.LogRecord {
	lr := out.AppendEmpty()
	lr.SetEventName(event)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(cv.observed))
	lr.SetTraceID(span.TraceID())
	lr.SetSpanID(span.SpanID())
	if !auditrecord.SetSeverity(lr, event) {
		// A schema without the unmapped type: such a record still asks for
		// a look, the trail holds something the mapping could not type.
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText(auditrecord.SeverityText(plog.SeverityNumberWarn))
	}
	lr.Attributes().PutStr(auditrecord.AttrSessionID, session)
	return lr
}

// unmappedSpan records a span the mapping cannot type. The whole span
// (name, kind, status, times, attributes, events) goes in the body, whatever
// keep_original says: it is all such a record holds.
func (cv *converter) unmappedSpan(out plog.LogRecordSlice, span ptrace.Span, session, reason, detail string) {
	ts := span.StartTimestamp()
	if ts == 0 {
		ts = span.EndTimestamp()
	}
	lr := cv.newRecord(out, unmappedEvent, ts, span, session)
	a := lr.Attributes()
	a.PutStr(sourceEventAttr, sourceEventName(span.Name()))
	a.PutStr(unmappedAttr, reason)
	a.PutStr(unmappedDetail, detail)
	copyStrings(span.Attributes(), a)
	b := lr.Body().SetEmptyMap()
	b.PutStr("name", span.Name())
	b.PutStr("kind", span.Kind().String())
	st := b.PutEmptyMap("status")
	st.PutStr("code", span.Status().Code().String())
	if msg := span.Status().Message(); msg != "" {
		st.PutStr("message", msg)
	}
	b.PutStr("start_time_unix_nano", fmt.Sprint(uint64(span.StartTimestamp())))
	b.PutStr("end_time_unix_nano", fmt.Sprint(uint64(span.EndTimestamp())))
	span.Attributes().CopyTo(b.PutEmptyMap("attributes"))
	if span.Events().Len() > 0 {
		evs := b.PutEmptySlice("events")
		for _, ev := range span.Events().All() {
			eventBody(evs.AppendEmpty().SetEmptyMap(), ev)
		}
	}
	cv.stats.unmapped[reason]++
}

// unmappedEvent records one span event of a mapped span that the mapping
// does not know, at the event's time, the event in the body.
func (cv *converter) unmappedEvent(out plog.LogRecordSlice, span ptrace.Span, ev ptrace.SpanEvent, session, reason, detail string) {
	ts := ev.Timestamp()
	if ts == 0 {
		ts = span.StartTimestamp()
	}
	lr := cv.newRecord(out, unmappedEvent, ts, span, session)
	a := lr.Attributes()
	a.PutStr(sourceEventAttr, sourceEventName(ev.Name()))
	a.PutStr(unmappedAttr, reason)
	a.PutStr(unmappedDetail, detail)
	copyStrings(span.Attributes(), a)
	a.PutStr(spanAttrPrefix+"name", span.Name())
	eventBody(lr.Body().SetEmptyMap(), ev)
	cv.stats.unmapped[reason]++
}

// sourceEventName is what agent_audit.source.event holds for a span or span
// event name: the schema requires the attribute non-blank, so a nameless one
// is "unknown" there (the body keeps the name as sent).
func sourceEventName(name string) string {
	if strings.TrimSpace(name) == "" {
		return unknownSourceEvent
	}
	return name
}

func eventBody(m pcommon.Map, ev ptrace.SpanEvent) {
	m.PutStr("name", ev.Name())
	m.PutStr("time_unix_nano", fmt.Sprint(uint64(ev.Timestamp())))
	ev.Attributes().CopyTo(m.PutEmptyMap("attributes"))
}

// keptName is where an original attribute is kept. A prefixed name that the
// schema itself defines (agent_audit.source.event since 1.1.0) would pass
// for that attribute, so such an original moves one level down.
func (cv *converter) keptName(k string) string {
	name := cv.cfg.OriginalPrefix + k
	if _, clash := auditrecord.AttributeSpecOf(name); clash {
		return cv.cfg.OriginalPrefix + "attributes." + k
	}
	return name
}

// copyStrings puts the span's identity attributes (operation, agent,
// conversation, user, host) on an unmapped record where they have the
// schema's type, so such a record is found by the same queries as the rest
// of the session.
func copyStrings(src, dst pcommon.Map) {
	for _, name := range shared {
		if v, ok := src.Get(name); ok && v.Type() == pcommon.ValueTypeStr {
			dst.PutStr(name, v.Str())
		}
	}
}

// copyAttrs copies the named span attributes that are present, as the
// schema types them (an int where a double is declared becomes a double, as
// the native decoder does).
func copyAttrs(src, dst pcommon.Map, lists ...[]string) {
	for _, list := range lists {
		for _, name := range list {
			v, ok := src.Get(name)
			if !ok {
				continue
			}
			if spec, ok := auditrecord.AttributeSpecOf(name); ok && spec.Type == auditrecord.TypeDouble && v.Type() == pcommon.ValueTypeInt {
				dst.PutDouble(name, float64(v.Int()))
				continue
			}
			v.CopyTo(dst.PutEmpty(name))
		}
	}
}

// checkValue checks a span attribute against the schema's type for its
// name (names the schema does not define accept any non-empty value). An
// integer where the schema wants a double passes: it is stored as a double
// when copied.
func checkValue(name string, v pcommon.Value) (string, string) {
	spec, ok := auditrecord.AttributeSpecOf(name)
	if !ok {
		if v.Type() == pcommon.ValueTypeEmpty {
			return reasonWrongType, name + " must not be empty"
		}
		return "", ""
	}
	if spec.Type == auditrecord.TypeDouble && v.Type() == pcommon.ValueTypeInt {
		return "", ""
	}
	reason := auditrecord.CheckValue(spec, v)
	if reason == "" {
		return "", ""
	}
	// A value of the right kind that the schema still refuses (an enum,
	// a range) is invalid; any other is of the wrong type.
	code := reasonWrongType
	if (spec.Type == auditrecord.TypeString && v.Type() == pcommon.ValueTypeStr) ||
		(spec.Type == auditrecord.TypeInt && v.Type() == pcommon.ValueTypeInt) {
		code = reasonInvalidValue
	}
	return code, name + " " + reason
}

// missingRequired names a required attribute of the record's event type
// that is absent or blank ("" when the record is complete), the first in
// name order.
func missingRequired(lr plog.LogRecord) string {
	_, specs, _ := auditrecord.EventSchema(lr.EventName())
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		if !specs[name].Required {
			continue
		}
		v, ok := lr.Attributes().Get(name)
		if !ok || (v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) == "") {
			return name
		}
	}
	return ""
}

// sessionOf is the span's gen_ai.conversation.id, else its trace id in
// lower-case hex. The second result is false when the span has neither.
func sessionOf(span ptrace.Span) (string, bool) {
	if v, ok := span.Attributes().Get("gen_ai.conversation.id"); ok && v.Type() == pcommon.ValueTypeStr && strings.TrimSpace(v.Str()) != "" {
		return v.Str(), true
	}
	if id := span.TraceID(); !id.IsEmpty() {
		return id.String(), true
	}
	return unknownSession, false
}

// isGenAI: a span with any gen_ai.* attribute or span event is an audit
// event, whether or not the mapping knows it.
func isGenAI(span ptrace.Span) bool {
	for k := range span.Attributes().All() {
		if strings.HasPrefix(k, "gen_ai.") {
			return true
		}
	}
	for _, ev := range span.Events().All() {
		if strings.HasPrefix(ev.Name(), "gen_ai.") {
			return true
		}
	}
	return false
}

func spanTimeProblem(span ptrace.Span) string {
	switch {
	case span.StartTimestamp() == 0:
		return "the span has no start time"
	case span.EndTimestamp() == 0:
		return "the span has no end time"
	case span.EndTimestamp() < span.StartTimestamp():
		return "the span ends before it starts"
	}
	return ""
}
