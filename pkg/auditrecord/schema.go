// Package auditrecord is the audit record model shared by the project's
// components: the documented event types (docs/schema.md), their attributes,
// and the decoder that turns native JSON events into OpenTelemetry LogRecords.
package auditrecord

import (
	"sort"

	"go.opentelemetry.io/collector/pdata/plog"
)

// SchemaVersion is the version of docs/schema.md that this package implements.
// It is written on every record's instrumentation scope so that an archived
// record states which schema it was validated against.
const SchemaVersion = "1.1.0"

// Names of attributes that the components read or write.
const (
	// AttrSchemaVersion is set on the instrumentation scope of records the
	// receiver produces.
	AttrSchemaVersion = "agent_audit.schema.version"
	AttrSessionID     = "session.id"
	AttrHostID        = "host.id"
	AttrEventID       = "agent_audit.event.id"
	AttrOutcome       = "agent_audit.outcome"
)

// EventNamePrefix starts every event name of the schema.
const EventNamePrefix = "agent_audit."

// ValueType is the type an attribute must have.
type ValueType int

const (
	TypeString ValueType = iota
	TypeInt
	TypeDouble
	TypeBool
	TypeStringArray
	// TypeAny accepts any JSON value but null (objects become maps).
	TypeAny
)

func (t ValueType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeDouble:
		return "double"
	case TypeBool:
		return "boolean"
	case TypeStringArray:
		return "string[]"
	default:
		return "any"
	}
}

// AttributeSpec describes one attribute of an event type.
type AttributeSpec struct {
	Name     string
	Type     ValueType
	Required bool
	// Enum, when not empty, lists the allowed values of a string attribute.
	Enum []string
	// Min and Max bound an int attribute when Max > Min.
	Min, Max int64
	Brief    string
}

// EventType is one documented kind of audit event.
type EventType struct {
	// Name is the LogRecord EventName, e.g. "agent_audit.tool.call".
	Name     string
	Severity plog.SeverityNumber
	Brief    string
	// Attributes specific to this event type; the common attributes apply too.
	Attributes []AttributeSpec
}

var outcomeValues = []string{"success", "failure", "unknown"}

// CommonAttributes apply to every event type.
var CommonAttributes = []AttributeSpec{
	{Name: "session.id", Type: TypeString, Required: true, Brief: "Agent session the event belongs to; the default stream key."},
	{Name: AttrEventID, Type: TypeString, Brief: "Client-assigned id of the event (UUID recommended); kept as sent, uniqueness is not checked."},
	{Name: "user.id", Type: TypeString, Brief: "Person on whose behalf the agent acts."},
	{Name: "user.name", Type: TypeString, Brief: "Login name of that person."},
	{Name: "host.id", Type: TypeString, Brief: "Host the agent runs on."},
	{Name: "host.name", Type: TypeString, Brief: "Host name the agent runs on."},
	{Name: "gen_ai.agent.id", Type: TypeString, Brief: "Identifier of the AI agent."},
	{Name: "gen_ai.agent.name", Type: TypeString, Brief: "Name of the AI agent, e.g. claude-code."},
	{Name: "gen_ai.conversation.id", Type: TypeString, Brief: "Conversation (thread) id, when the agent has one."},
	{Name: AttrOutcome, Type: TypeString, Enum: outcomeValues, Brief: "Result of the action."},
	{Name: "agent_audit.risk_score", Type: TypeInt, Min: 0, Max: 100, Brief: "Risk score 0-100 assigned by the agent or a policy engine."},
	{Name: "agent_audit.reason", Type: TypeString, Brief: "Free-text justification or explanation."},
	// Since 1.1.0: what a source that is not the native API (Claude Code
	// hooks) knows about every event, whatever its type.
	{Name: "agent_audit.permission_mode", Type: TypeString, Brief: "Permission mode the agent runs in, e.g. default, plan, acceptEdits, bypassPermissions."},
	{Name: "agent_audit.source.event", Type: TypeString, Brief: "Name of the event at its source, e.g. the Claude Code hook PreToolUse."},
	{Name: "agent_audit.transcript.path", Type: TypeString, Brief: "Path of the agent's transcript file on its host."},
	{Name: "agent_audit.agent.type", Type: TypeString, Brief: "Type of the agent or subagent, e.g. general-purpose, Explore."},
}

// EventTypes lists every event type of the schema, in documentation order.
var EventTypes = []EventType{
	{Name: "agent_audit.session.start", Severity: plog.SeverityNumberInfo, Brief: "An agent session began.", Attributes: []AttributeSpec{
		{Name: "process.pid", Type: TypeInt, Brief: "Process id of the agent."},
		{Name: "process.executable.path", Type: TypeString, Brief: "Agent executable."},
		{Name: "process.working_directory", Type: TypeString, Brief: "Working directory the session started in."},
		{Name: "agent_audit.session.start_reason", Type: TypeString, Brief: "Why the session started, e.g. startup, resume, clear, compact."},
	}},
	{Name: "agent_audit.session.end", Severity: plog.SeverityNumberInfo, Brief: "An agent session ended.", Attributes: []AttributeSpec{
		{Name: "agent_audit.session.end_reason", Type: TypeString, Brief: "Why the session ended, e.g. completed, user_exit, error."},
	}},
	{Name: "agent_audit.prompt", Severity: plog.SeverityNumberInfo, Brief: "A person submitted a prompt to the agent. The prompt text goes in the body.", Attributes: []AttributeSpec{
		{Name: "agent_audit.prompt.digest", Type: TypeString, Brief: "Digest of the prompt when the text is not sent."},
		{Name: "agent_audit.prompt.length", Type: TypeInt, Brief: "Length of the prompt in characters."},
	}},
	{Name: "agent_audit.model.request", Severity: plog.SeverityNumberInfo, Brief: "The agent sent a request to a model.", Attributes: []AttributeSpec{
		{Name: "gen_ai.request.model", Type: TypeString, Required: true, Brief: "Model requested."},
		{Name: "gen_ai.provider.name", Type: TypeString, Brief: "Model provider, e.g. anthropic, openai."},
		{Name: "gen_ai.operation.name", Type: TypeString, Brief: "Operation, e.g. chat."},
		{Name: "gen_ai.request.max_tokens", Type: TypeInt, Brief: "Maximum tokens requested."},
		{Name: "gen_ai.request.temperature", Type: TypeDouble, Brief: "Sampling temperature."},
		{Name: "server.address", Type: TypeString, Brief: "Model endpoint host."},
	}},
	{Name: "agent_audit.model.response", Severity: plog.SeverityNumberInfo, Brief: "A model answered the agent.", Attributes: []AttributeSpec{
		{Name: "gen_ai.request.model", Type: TypeString, Required: true, Brief: "Model requested."},
		{Name: "gen_ai.response.model", Type: TypeString, Brief: "Model that answered."},
		{Name: "gen_ai.response.id", Type: TypeString, Brief: "Provider's response id."},
		{Name: "gen_ai.provider.name", Type: TypeString, Brief: "Model provider."},
		{Name: "gen_ai.usage.input_tokens", Type: TypeInt, Brief: "Input tokens used."},
		{Name: "gen_ai.usage.output_tokens", Type: TypeInt, Brief: "Output tokens used."},
		{Name: "gen_ai.response.finish_reasons", Type: TypeStringArray, Brief: "Why the model stopped."},
		{Name: "agent_audit.duration_ms", Type: TypeInt, Brief: "Request duration in milliseconds."},
	}},
	{Name: "agent_audit.tool.call", Severity: plog.SeverityNumberInfo, Brief: "The agent decided to call a tool. Arguments go in gen_ai.tool.call.arguments.", Attributes: []AttributeSpec{
		{Name: "gen_ai.tool.name", Type: TypeString, Required: true, Brief: "Tool name, e.g. Bash, Edit, an MCP tool."},
		{Name: "gen_ai.tool.call.id", Type: TypeString, Brief: "Tool call id; links the call to its result."},
		{Name: "gen_ai.tool.type", Type: TypeString, Brief: "Tool type, e.g. function, extension, datastore."},
		{Name: "gen_ai.tool.call.arguments", Type: TypeAny, Brief: "Arguments of the call (object or string)."},
		{Name: "agent_audit.mcp.server", Type: TypeString, Brief: "MCP server providing the tool."},
	}},
	{Name: "agent_audit.tool.result", Severity: plog.SeverityNumberInfo, Brief: "A tool call finished.", Attributes: []AttributeSpec{
		{Name: "gen_ai.tool.name", Type: TypeString, Required: true, Brief: "Tool name."},
		{Name: AttrOutcome, Type: TypeString, Required: true, Enum: outcomeValues, Brief: "Result of the call."},
		{Name: "gen_ai.tool.call.id", Type: TypeString, Brief: "Tool call id."},
		{Name: "gen_ai.tool.call.result", Type: TypeAny, Brief: "Output of the tool; may hold sensitive content."},
		{Name: "error.type", Type: TypeString, Brief: "Error class when the call failed."},
		{Name: "agent_audit.duration_ms", Type: TypeInt, Brief: "Call duration in milliseconds."},
	}},
	fileEvent("agent_audit.file.read", "The agent read a file."),
	fileEvent("agent_audit.file.write", "The agent created or modified a file."),
	fileEvent("agent_audit.file.delete", "The agent deleted a file."),
	{Name: "agent_audit.command.exec", Severity: plog.SeverityNumberInfo, Brief: "The agent ran a command.", Attributes: []AttributeSpec{
		{Name: "process.command_line", Type: TypeString, Required: true, Brief: "Full command line."},
		{Name: "process.executable.path", Type: TypeString, Brief: "Executable run."},
		{Name: "process.pid", Type: TypeInt, Brief: "Process id of the command."},
		{Name: "process.exit.code", Type: TypeInt, Brief: "Exit code, once known."},
		{Name: "process.working_directory", Type: TypeString, Brief: "Working directory of the command."},
	}},
	{Name: "agent_audit.network.request", Severity: plog.SeverityNumberInfo, Brief: "The agent made a network request.", Attributes: []AttributeSpec{
		{Name: "url.full", Type: TypeString, Required: true, Brief: "Requested URL, as the agent used it."},
		{Name: "http.request.method", Type: TypeString, Brief: "HTTP method."},
		{Name: "http.response.status_code", Type: TypeInt, Brief: "HTTP status code."},
		{Name: "server.address", Type: TypeString, Brief: "Destination host."},
		{Name: "server.port", Type: TypeInt, Min: 0, Max: 65535, Brief: "Destination port."},
		{Name: "network.protocol.name", Type: TypeString, Brief: "Protocol, e.g. http, dns."},
	}},
	{Name: "agent_audit.permission.request", Severity: plog.SeverityNumberInfo, Brief: "The agent asked for permission to act.", Attributes: []AttributeSpec{
		{Name: "agent_audit.action", Type: TypeString, Required: true, Brief: "What permission is asked for, e.g. Bash(rm -rf build)."},
		{Name: "gen_ai.tool.name", Type: TypeString, Brief: "Tool the permission is for."},
		{Name: "gen_ai.tool.call.id", Type: TypeString, Brief: "Tool call the permission is for."},
	}},
	{Name: "agent_audit.permission.decision", Severity: plog.SeverityNumberInfo, Brief: "A permission request was decided.", Attributes: []AttributeSpec{
		{Name: "agent_audit.action", Type: TypeString, Required: true, Brief: "What permission was asked for."},
		{Name: "agent_audit.decision", Type: TypeString, Required: true, Enum: []string{"allow", "deny", "ask"}, Brief: "The decision."},
		{Name: "agent_audit.decision.source", Type: TypeString, Enum: []string{"user", "policy", "config", "agent"}, Brief: "Who decided."},
		{Name: "agent_audit.approver.id", Type: TypeString, Brief: "Person who approved or denied, when a person did."},
		{Name: "gen_ai.tool.name", Type: TypeString, Brief: "Tool the permission is for."},
		{Name: "gen_ai.tool.call.id", Type: TypeString, Brief: "Tool call the permission is for."},
	}},
	{Name: "agent_audit.policy.violation", Severity: plog.SeverityNumberWarn, Brief: "An action broke a policy rule (whether or not it was blocked).", Attributes: []AttributeSpec{
		{Name: "agent_audit.policy.rule", Type: TypeString, Required: true, Brief: "Rule that was violated."},
		{Name: "agent_audit.action", Type: TypeString, Brief: "Action that violated it."},
		{Name: "agent_audit.decision", Type: TypeString, Enum: []string{"allow", "deny", "ask"}, Brief: "What the policy engine did about it."},
	}},
	{Name: "agent_audit.error", Severity: plog.SeverityNumberError, Brief: "The agent or its harness failed.", Attributes: []AttributeSpec{
		{Name: "error.type", Type: TypeString, Required: true, Brief: "Error class."},
		{Name: "exception.message", Type: TypeString, Brief: "Error message."},
	}},
	{Name: "agent_audit.agent.notification", Severity: plog.SeverityNumberInfo, Brief: "The agent notified the person, e.g. that it waits for input or a permission. The message goes in the body.", Attributes: []AttributeSpec{
		{Name: "agent_audit.notification.type", Type: TypeString, Brief: "Kind of notification, e.g. permission_prompt, idle_prompt."},
		{Name: "agent_audit.notification.title", Type: TypeString, Brief: "Title of the notification."},
	}},
	{Name: "agent_audit.agent.stop", Severity: plog.SeverityNumberInfo, Brief: "The agent or a subagent finished its turn.", Attributes: []AttributeSpec{
		{Name: "agent_audit.stop.hook_active", Type: TypeBool, Brief: "The agent was already continuing because a stop hook had kept it from stopping."},
		{Name: "agent_audit.agent.transcript.path", Type: TypeString, Brief: "Transcript file of the subagent that stopped."},
	}},
	{Name: "agent_audit.agent.compact", Severity: plog.SeverityNumberInfo, Brief: "The agent is about to compact its context (summarize and drop history).", Attributes: []AttributeSpec{
		{Name: "agent_audit.compact.trigger", Type: TypeString, Brief: "What started the compaction, e.g. manual, auto."},
		{Name: "agent_audit.compact.instructions", Type: TypeString, Brief: "Instructions the person gave for the compaction."},
	}},
	{Name: "agent_audit.source.unmapped", Severity: plog.SeverityNumberInfo, Brief: "An event of a source that has no mapping to another event type; the source's payload goes in the body.", Attributes: []AttributeSpec{
		{Name: "agent_audit.source.event", Type: TypeString, Required: true, Brief: "Name of the event at its source."},
		{Name: "agent_audit.unmapped", Type: TypeString, Brief: "Reason code: why the event has no mapping (docs/schema.md lists the codes)."},
		{Name: "agent_audit.unmapped_detail", Type: TypeString, Brief: "Human-readable detail of the reason."},
	}},
}

func fileEvent(name, brief string) EventType {
	return EventType{Name: name, Severity: plog.SeverityNumberInfo, Brief: brief, Attributes: []AttributeSpec{
		{Name: "file.path", Type: TypeString, Required: true, Brief: "Absolute path of the file."},
		{Name: "file.size", Type: TypeInt, Brief: "Size in bytes after the action."},
		{Name: "agent_audit.file.sha256", Type: TypeString, Brief: "SHA-256 of the content after the action (hex)."},
		{Name: "gen_ai.tool.call.id", Type: TypeString, Brief: "Tool call that caused the action."},
	}}
}

// eventIndex maps an event name to its type, with the common and specific
// attribute specs merged (specific ones win: they may make a common one required).
var eventIndex = func() map[string]*eventSchema {
	m := make(map[string]*eventSchema, len(EventTypes))
	for i := range EventTypes {
		et := &EventTypes[i]
		s := &eventSchema{EventType: et, attrs: map[string]*AttributeSpec{}}
		for j := range CommonAttributes {
			s.attrs[CommonAttributes[j].Name] = &CommonAttributes[j]
		}
		for j := range et.Attributes {
			s.attrs[et.Attributes[j].Name] = &et.Attributes[j]
		}
		for name, spec := range s.attrs {
			if spec.Required {
				s.required = append(s.required, name)
			}
		}
		sort.Strings(s.required)
		m[et.Name] = s
	}
	return m
}()

// attributeIndex maps every attribute name the schema defines, for any event
// type, to its spec; types are enforced wherever the attribute appears.
var attributeIndex = func() map[string]*AttributeSpec {
	m := map[string]*AttributeSpec{}
	for _, s := range eventIndex {
		for name, spec := range s.attrs {
			m[name] = spec
		}
	}
	return m
}()

type eventSchema struct {
	*EventType
	attrs    map[string]*AttributeSpec
	required []string
}
