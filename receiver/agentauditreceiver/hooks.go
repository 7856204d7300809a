package agentauditreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/agentaudit/otelcol-agentaudit/pkg/auditrecord"
)

// ClaudeCodeHooksPath takes one Claude Code hook payload per request, from
// an HTTP hook or from the command hook of docs/agents.md.
const ClaudeCodeHooksPath = "/v1/hooks/claude-code"

// hooksFormat names the operation in the receiver's obsreport metrics.
const hooksFormat = "claude_code_hook"

// claudeCodeAgentName is gen_ai.agent.name on every record of the endpoint:
// the payload does not name the agent, the path does.
const claudeCodeAgentName = "claude-code"

// claudeCodeFieldPrefix keeps a payload field that has no mapping, so that a
// field added by a newer Claude Code is archived rather than lost.
const claudeCodeFieldPrefix = "claude_code."

// unmappedEventType records a hook event that has no mapping, with the whole
// payload as body: recorded rather than refused, because Claude Code adds
// events faster than this mapping and a dropped event is a hole in the trail.
// The record follows the convention of docs/schema.md ("Unmapped events: the
// convention"): agent_audit.source.event is the hook name,
// agent_audit.unmapped the reason code, agent_audit.unmapped_detail the text.
const (
	unmappedEventType     = "agent_audit.source.unmapped"
	unmappedAttr          = "agent_audit.unmapped"
	unmappedDetailAttr    = "agent_audit.unmapped_detail"
	unmappedReasonUnknown = "unknown_event"
	unmappedDetailPrefix  = "no mapping for Claude Code hook event "
)

type fieldKind int

const (
	kindString fieldKind = iota
	kindBool
	kindAny // any JSON value but null
)

// toBody as a field's target puts its value in the record's body.
const toBody = "(body)"

// hookField says how one payload field is checked and where it goes. An
// empty attr means the mapping code reads the field itself.
type hookField struct {
	kind     fieldKind
	attr     string
	required bool
}

// commonHookFields are in every payload (agent_id and agent_type only
// inside subagents). docs/schema.md "Claude Code hooks" is the table.
var commonHookFields = map[string]hookField{
	"session_id":      {kind: kindString, attr: auditrecord.AttrSessionID, required: true},
	"hook_event_name": {kind: kindString, attr: "agent_audit.source.event", required: true},
	"transcript_path": {kind: kindString, attr: "agent_audit.transcript.path"},
	"cwd":             {kind: kindString, attr: "process.working_directory"},
	"permission_mode": {kind: kindString, attr: "agent_audit.permission_mode"},
	"agent_id":        {kind: kindString, attr: "gen_ai.agent.id"},
	"agent_type":      {kind: kindString, attr: "agent_audit.agent.type"},
}

// hookEvent maps one hook event to an event type.
type hookEvent struct {
	eventType string
	fields    map[string]hookField
}

func toolFields(extra map[string]hookField) map[string]hookField {
	m := map[string]hookField{
		"tool_name":   {kind: kindString, attr: "gen_ai.tool.name", required: true},
		"tool_use_id": {kind: kindString, attr: "gen_ai.tool.call.id"},
		"tool_input":  {kind: kindAny, attr: "gen_ai.tool.call.arguments"},
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

var stopFields = map[string]hookField{
	"stop_hook_active":       {kind: kindBool, attr: "agent_audit.stop.hook_active"},
	"last_assistant_message": {kind: kindString},
	"agent_transcript_path":  {kind: kindString, attr: "agent_audit.agent.transcript.path"},
}

var claudeCodeEvents = map[string]hookEvent{
	"SessionStart": {"agent_audit.session.start", map[string]hookField{
		"source": {kind: kindString, attr: "agent_audit.session.start_reason"},
		"model":  {kind: kindString, attr: "gen_ai.request.model"},
	}},
	"SessionEnd": {"agent_audit.session.end", map[string]hookField{
		"reason": {kind: kindString, attr: "agent_audit.session.end_reason"},
	}},
	"UserPromptSubmit": {"agent_audit.prompt", map[string]hookField{
		"prompt": {kind: kindString, attr: toBody, required: true},
	}},
	"PreToolUse":        {"agent_audit.tool.call", toolFields(nil)},
	"PermissionRequest": {"agent_audit.permission.request", toolFields(nil)},
	"PostToolUse": {"agent_audit.tool.result", toolFields(map[string]hookField{
		"tool_response": {kind: kindAny, attr: "gen_ai.tool.call.result"},
	})},
	"PostToolUseFailure": {"agent_audit.tool.result", toolFields(map[string]hookField{
		"tool_response": {kind: kindAny, attr: "gen_ai.tool.call.result"},
		"error":         {kind: kindString, attr: "exception.message"},
		"is_interrupt":  {kind: kindBool},
	})},
	"Notification": {"agent_audit.agent.notification", map[string]hookField{
		"message":           {kind: kindString, attr: toBody},
		"title":             {kind: kindString, attr: "agent_audit.notification.title"},
		"notification_type": {kind: kindString, attr: "agent_audit.notification.type"},
	}},
	"Stop":         {"agent_audit.agent.stop", stopFields},
	"SubagentStop": {"agent_audit.agent.stop", stopFields},
	"PreCompact": {"agent_audit.agent.compact", map[string]hookField{
		"trigger":             {kind: kindString, attr: "agent_audit.compact.trigger"},
		"custom_instructions": {kind: kindString, attr: "agent_audit.compact.instructions"},
	}},
}

// payloadField is one top-level field of a hook payload, in payload order.
type payloadField struct {
	name string
	raw  json.RawMessage
}

// hookTranslation is a payload turned into one native event.
type hookTranslation struct {
	event []byte
	// origin maps a field of the native event ("attributes.X", "body") back
	// to the payload field it came from, so that problems name what the
	// client sent.
	origin map[string]string
}

func (r *agentAuditReceiver) handleClaudeCodeHook(w http.ResponseWriter, req *http.Request) {
	_, body, ok := r.readRequest(w, req, "a hook payload is one JSON object; send Content-Type application/json")
	if !ok {
		return
	}

	tr, problems := translateClaudeCodeHook(body)
	if len(problems) == 0 {
		logs, err := auditrecord.Decode(tr.event, auditrecord.FormatJSON, r.limits, time.Now())
		if err == nil {
			r.consumeHook(w, req, logs)
			return
		}
		var inv *auditrecord.InvalidRequestError
		if !errors.As(err, &inv) {
			inv = &auditrecord.InvalidRequestError{Problems: []auditrecord.Problem{{Reason: err.Error()}}}
		}
		problems = tr.payloadProblems(inv.Problems)
	}
	if problems[0].Field != "" || len(problems) > 1 {
		// As on the events endpoint: a refusal of the whole body (not JSON,
		// not an object) names no event and counts no invalid event.
		r.telemetry.ReceiverAgentauditEventsInvalid.Add(req.Context(), 1)
	}
	r.refuse(req.Context(), w, http.StatusBadRequest, "invalid", response{
		Error:    "hook payload refused: nothing of it was recorded",
		Problems: problems,
	})
}

// hookConsumeTimeout bounds the wait on the pipeline for one hook: Claude
// Code waits for the answer before it goes on (up to the hook's timeout,
// minutes when unset), so a pipeline that does not return is answered 503
// well within the 5 s timeout of docs/agents.md instead of holding it up.
var hookConsumeTimeout = 3 * time.Second

// consumeHook hands the record on as the native API does (same 429/503 and
// Retry-After). Success is a 2xx with an empty body: Claude Code reads that
// as "no decision", exactly like a command hook that exits 0 and prints
// nothing, so the collector can never block or deny an action by its answer.
func (r *agentAuditReceiver) consumeHook(w http.ResponseWriter, req *http.Request, logs plog.Logs) {
	n := logs.LogRecordCount()
	bounded, cancel := context.WithTimeout(req.Context(), hookConsumeTimeout)
	defer cancel()
	ctx := r.obsrecv.StartLogsOp(bounded)
	err := r.next.ConsumeLogs(ctx, logs)
	r.obsrecv.EndLogsOp(ctx, hooksFormat, n, err)
	if err != nil {
		code := statusForPipelineError(err)
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", strconv.Itoa(int(r.cfg.RetryAfter/time.Second)))
		}
		r.settings.Logger.Debug("Pipeline refused a Claude Code hook event", zap.Error(err))
		r.refuse(req.Context(), w, code, "pipeline_refused", response{Error: "pipeline refused the event, retry later: " + err.Error()})
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// translateClaudeCodeHook checks a hook payload and writes it as one native
// event, which auditrecord.Decode then validates like any other: the hook
// endpoint gets the native API's limits and schema checks by construction.
func translateClaudeCodeHook(body []byte) (*hookTranslation, []auditrecord.Problem) {
	whole := func(reason string) []auditrecord.Problem {
		return []auditrecord.Problem{{Reason: reason}}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, whole("empty body: send one Claude Code hook payload (a JSON object)")
	}
	// Checked here, on the bytes the client sent, so that an offset in the
	// reason points into them; the translation is valid text by construction.
	if reason := auditrecord.TextProblem(body); reason != "" {
		return nil, whole(reason)
	}
	fields, problem := splitPayload(body)
	if problem != "" {
		return nil, whole(problem)
	}
	values := make(map[string]json.RawMessage, len(fields))
	var problems []auditrecord.Problem
	for _, f := range fields {
		if _, dup := values[f.name]; dup {
			problems = append(problems, auditrecord.Problem{Field: f.name, Reason: "duplicate field"})
			continue
		}
		values[f.name] = f.raw
	}
	if len(problems) > 0 {
		return nil, problems
	}

	// The event name picks the mapping; check it first so that the other
	// fields are checked against the right one.
	var eventName string
	if p := checkField("hook_event_name", commonHookFields["hook_event_name"], values["hook_event_name"]); p != nil {
		return nil, []auditrecord.Problem{*p}
	}
	_ = json.Unmarshal(values["hook_event_name"], &eventName)
	if strings.TrimSpace(eventName) == "" {
		return nil, []auditrecord.Problem{{Field: "hook_event_name", Reason: "required field is empty"}}
	}
	ev, known := claudeCodeEvents[eventName]
	if !known {
		ev = hookEvent{eventType: unmappedEventType}
	}

	spec := func(name string) (hookField, bool) {
		if s, ok := commonHookFields[name]; ok {
			return s, true
		}
		s, ok := ev.fields[name]
		return s, ok
	}
	for _, m := range []map[string]hookField{commonHookFields, ev.fields} {
		for name, s := range m {
			if _, present := values[name]; !present && s.required {
				problems = append(problems, auditrecord.Problem{Field: name, Reason: "required field is missing"})
			}
		}
	}
	for _, f := range fields {
		if s, ok := spec(f.name); ok {
			if p := checkField(f.name, s, f.raw); p != nil {
				problems = append(problems, *p)
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return nil, problems
	}

	b := &eventBuilder{origin: map[string]string{}}
	b.buf.WriteString(`{"event_name":`)
	b.buf.Write(jsonString(ev.eventType))
	b.buf.WriteString(`,"attributes":{`)
	b.attr("gen_ai.agent.name", jsonString(claudeCodeAgentName), "")
	var bodyRaw json.RawMessage
	bodyFrom := ""
	for _, f := range fields {
		if isNull(f.raw) {
			continue // null is absent: see docs/schema.md "Claude Code hooks"
		}
		s, ok := spec(f.name)
		switch {
		case ok && s.attr == toBody:
			bodyRaw, bodyFrom = f.raw, f.name
		case ok && s.attr != "":
			b.attr(s.attr, f.raw, f.name)
		case ok:
			// Read below by the mapping of its event.
		case known:
			b.attr(claudeCodeFieldPrefix+f.name, f.raw, f.name)
		}
	}
	if !known {
		// The whole payload, common fields included, exactly as sent.
		bodyRaw, bodyFrom = bytes.TrimSpace(body), ""
		b.attr(unmappedAttr, jsonString(unmappedReasonUnknown), "hook_event_name")
		b.attr(unmappedDetailAttr, jsonString(unmappedDetailPrefix+eventName), "hook_event_name")
	}
	derive(eventName, values, b)
	b.buf.WriteByte('}')
	if bodyRaw != nil {
		b.buf.WriteString(`,"body":`)
		b.buf.Write(bodyRaw)
		b.origin["body"] = bodyFrom
	}
	b.buf.WriteByte('}')
	return &hookTranslation{event: b.buf.Bytes(), origin: b.origin}, nil
}

// derive adds what the mapping computes from the payload rather than copies.
func derive(eventName string, values map[string]json.RawMessage, b *eventBuilder) {
	str := func(name string) (string, bool) {
		var s string
		raw, ok := values[name]
		if !ok || isNull(raw) {
			return "", false
		}
		return s, json.Unmarshal(raw, &s) == nil
	}
	switch eventName {
	case "UserPromptSubmit":
		if p, ok := str("prompt"); ok {
			// The length survives the scrub processor's digest of the body.
			b.attr("agent_audit.prompt.length", []byte(strconv.Itoa(utf8.RuneCountInString(p))), "prompt")
		}
	case "PreToolUse":
		if name, _ := str("tool_name"); mcpServer(name) != "" {
			b.attr("agent_audit.mcp.server", jsonString(mcpServer(name)), "tool_name")
		}
	case "PermissionRequest":
		name, _ := str("tool_name")
		b.attr("agent_audit.action", jsonString(permissionAction(name, values["tool_input"])), "tool_name")
	case "PostToolUse":
		b.attr(auditrecord.AttrOutcome, jsonString("success"), "")
	case "PostToolUseFailure":
		b.attr(auditrecord.AttrOutcome, jsonString("failure"), "")
		errType := "tool_error"
		if string(values["is_interrupt"]) == "true" {
			errType = "interrupted"
		}
		b.attr("error.type", jsonString(errType), "is_interrupt")
	case "Stop", "SubagentStop":
		if raw, ok := values["last_assistant_message"]; ok && !isNull(raw) {
			// The OpenTelemetry GenAI shape of an output message; the scrub
			// processor treats gen_ai.output.messages as content (digest).
			var m bytes.Buffer
			m.WriteString(`[{"role":"assistant","parts":[{"type":"text","content":`)
			m.Write(raw)
			m.WriteString(`}]}]`)
			b.attr("gen_ai.output.messages", m.Bytes(), "last_assistant_message")
		}
	}
}

// mcpServer is the server of an MCP tool name (mcp__<server>__<tool>), or "".
func mcpServer(tool string) string {
	rest, ok := strings.CutPrefix(tool, "mcp__")
	if !ok {
		return ""
	}
	server, _, ok := strings.Cut(rest, "__")
	if !ok {
		return ""
	}
	return server
}

// permissionAction writes what is asked for as Claude Code writes a
// permission rule, Tool(specifier), e.g. Bash(rm -rf build): the form a
// reviewer knows from settings.json. Without a known specifier, the tool name.
func permissionAction(tool string, input json.RawMessage) string {
	var args map[string]any
	_ = json.Unmarshal(input, &args)
	for _, key := range []string{"command", "file_path", "notebook_path", "url", "path", "pattern", "query"} {
		if s, ok := args[key].(string); ok && s != "" {
			return tool + "(" + s + ")"
		}
	}
	return tool
}

// eventBuilder writes the attributes of the native event.
type eventBuilder struct {
	buf    bytes.Buffer
	n      int
	origin map[string]string
}

func (b *eventBuilder) attr(name string, raw []byte, from string) {
	if b.n > 0 {
		b.buf.WriteByte(',')
	}
	b.n++
	b.buf.Write(jsonString(name))
	b.buf.WriteByte(':')
	b.buf.Write(raw)
	b.origin["attributes."+name] = from
}

// payloadProblems rewrites problems of the native event in terms of the
// payload: "attributes.gen_ai.tool.call.arguments.x" becomes "tool_input.x".
func (tr *hookTranslation) payloadProblems(in []auditrecord.Problem) []auditrecord.Problem {
	out := make([]auditrecord.Problem, 0, len(in))
	for _, p := range in {
		p.Index = nil // one payload, one event
		// The longest match wins: a field name may extend another one.
		best, from := "", ""
		for native, f := range tr.origin {
			rest, ok := strings.CutPrefix(p.Field, native)
			if ok && (rest == "" || rest[0] == '.' || rest[0] == '[') && len(native) > len(best) {
				best, from = native, f
			}
		}
		rest := strings.TrimPrefix(p.Field, best)
		switch {
		case best == "":
		case from == "" && best == "body": // the whole payload
			p.Field = strings.TrimPrefix(rest, ".")
		case from == "":
			p.Field = best // computed by the collector; named as recorded
		default:
			p.Field = from + rest
		}
		out = append(out, p)
	}
	return out
}

// splitPayload reads the top level of the payload: one JSON object.
func splitPayload(body []byte) ([]payloadField, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonProblem(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, "a hook payload must be one JSON object, got " + jsonKind(tok)
	}
	var fields []payloadField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonProblem(err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonProblem(err)
		}
		fields = append(fields, payloadField{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, jsonProblem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "malformed JSON: data after the end of the payload object"
	}
	return fields, ""
}

func checkField(name string, s hookField, raw json.RawMessage) *auditrecord.Problem {
	if raw == nil || isNull(raw) {
		if s.required {
			return &auditrecord.Problem{Field: name, Reason: "required field is missing"}
		}
		return nil
	}
	var want string
	switch s.kind {
	case kindString:
		if raw[0] != '"' {
			want = "a string"
		}
	case kindBool:
		if raw[0] != 't' && raw[0] != 'f' {
			want = "a boolean"
		}
	}
	if want == "" {
		return nil
	}
	return &auditrecord.Problem{Field: name, Reason: "must be " + want + ", got " + rawKind(raw)}
}

func sortProblems(ps []auditrecord.Problem) {
	// Map iteration order is random; answers must not be.
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Field < ps[j-1].Field; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func rawKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func jsonKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a number"
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	}
	return "malformed JSON: " + err.Error()
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
