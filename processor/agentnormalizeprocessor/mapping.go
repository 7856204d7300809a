package agentnormalizeprocessor

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Audit event types the mappings produce (docs/schema.md).
const (
	evSessionStart       = "agent_audit.session.start"
	evPrompt             = "agent_audit.prompt"
	evModelRequest       = "agent_audit.model.request"
	evModelResponse      = "agent_audit.model.response"
	evToolResult         = "agent_audit.tool.result"
	evPermissionDecision = "agent_audit.permission.decision"
	evError              = "agent_audit.error"
)

// Agent names written as gen_ai.agent.name.
const (
	agentClaudeCode = "claude-code"
	agentCodex      = "codex"
)

// Semantic-convention names the mappings write that the schema does not
// list (kept without a type check, as the schema's rule 4 allows).
const (
	attrCacheRead     = "gen_ai.usage.cache_read.input_tokens"
	attrCacheCreation = "gen_ai.usage.cache_creation.input_tokens"
)

// ---- Claude Code (code.claude.com/docs/en/monitoring-usage, "Events") ----

var claudeDecisions = map[string]string{"accept": "allow", "reject": "deny"}

// claudeDecisionSources: a hook is an operator-written rule, so "policy";
// every user_* value is a person at the permission prompt.
var claudeDecisionSources = map[string]string{
	"config":         "config",
	"hook":           "policy",
	"user_permanent": "user",
	"user_temporary": "user",
	"user_abort":     "user",
	"user_reject":    "user",
}

func mapClaude(b *builder, name string) string {
	var ev string
	switch name {
	case "claude_code.user_prompt":
		ev = evPrompt
	case "claude_code.tool_decision":
		ev = evPermissionDecision
	case "claude_code.tool_result":
		ev = evToolResult
	case "claude_code.api_request":
		ev = evModelResponse
	case "claude_code.api_error":
		ev = evError
	default:
		b.failf(reasonUnknownEvent, "no mapping for Claude Code event %s", name)
		return ""
	}
	b.out.PutStr("session.id", identityRequired(b, "session.id"))
	b.out.PutStr("gen_ai.agent.name", agentClaudeCode)
	user := firstIdentity(b, "user.email", "user.account_uuid", "user.account_id")
	b.putStr("user.id", user, user != "")

	switch ev {
	case evPrompt:
		b.copyInt("prompt_length", "agent_audit.prompt.length")
		b.promptBody("prompt")
	case evPermissionDecision:
		tool := b.reqStr("tool_name")
		b.putStr("gen_ai.tool.name", tool, true)
		b.copyStr("tool_use_id", "gen_ai.tool.call.id")
		d, _ := b.enum("decision", claudeDecisions, true)
		b.putStr("agent_audit.decision", d, true)
		src, ok := b.enum("source", claudeDecisionSources, false)
		b.putStr("agent_audit.decision.source", src, ok)
		b.putStr("agent_audit.approver.id", user, ok && src == "user")
		params, _ := b.str("tool_parameters")
		b.putStr("agent_audit.action", action(tool, params), true)
	case evToolResult:
		b.putStr("gen_ai.tool.name", b.reqStr("tool_name"), true)
		b.copyStr("tool_use_id", "gen_ai.tool.call.id")
		b.outcome("success")
		b.copyInt("duration_ms", "agent_audit.duration_ms")
		b.copyStr("error_type", "error.type")
		b.copyStr("error", "exception.message")
		// tool_input is the call's arguments; tool_parameters, a summary
		// per tool, stands in when only it was sent.
		if in, ok := b.str("tool_input"); ok {
			b.putStr("gen_ai.tool.call.arguments", in, true)
		} else {
			b.copyStr("tool_parameters", "gen_ai.tool.call.arguments")
		}
	case evModelResponse:
		b.putStr("gen_ai.request.model", b.reqStr("model"), true)
		b.out.PutStr("gen_ai.provider.name", "anthropic")
		b.copyInt("input_tokens", "gen_ai.usage.input_tokens")
		b.copyInt("output_tokens", "gen_ai.usage.output_tokens")
		b.copyInt("cache_read_tokens", attrCacheRead)
		b.copyInt("cache_creation_tokens", attrCacheCreation)
		b.copyInt("duration_ms", "agent_audit.duration_ms")
	case evError:
		b.copyStr("model", "gen_ai.request.model")
		b.out.PutStr("gen_ai.provider.name", "anthropic")
		b.copyStr("error", "exception.message")
		errorTypeFromStatus(b, "status_code")
	}
	return ev
}

// errorTypeFromStatus sets error.type as the semantic conventions do for
// HTTP: the status code as a string, or _OTHER when there is none (Claude
// Code leaves status_code out, or older versions write "undefined", for
// errors without an HTTP answer).
func errorTypeFromStatus(b *builder, key string) {
	v, ok := b.get(key)
	if ok && v.Str() != "undefined" {
		if code, present := b.int(key); present && b.fail == nil {
			b.out.PutInt("http.response.status_code", code)
			b.out.PutStr("error.type", strconv.FormatInt(code, 10))
			return
		}
	}
	if b.fail == nil {
		b.out.PutStr("error.type", "_OTHER")
	}
}

// action names what permission was decided, as the schema's examples do:
// the tool, with the command for a shell tool when the agent sent it
// (Claude Code's tool_parameters, with OTEL_LOG_TOOL_DETAILS=1).
func action(tool, params string) string {
	if params == "" {
		return tool
	}
	var p map[string]any
	if json.Unmarshal([]byte(params), &p) != nil {
		return tool
	}
	for _, k := range []string{"full_command", "bash_command"} {
		if cmd, ok := p[k].(string); ok && strings.TrimSpace(cmd) != "" {
			return tool + "(" + cmd + ")"
		}
	}
	return tool
}

// ---- OpenAI Codex CLI (github.com/openai/codex docs/config.md, "otel") ----

var codexDecisions = map[string]string{
	"approved":                      "allow",
	"approved_for_session":          "allow",
	"approved_execpolicy_amendment": "allow",
	"denied":                        "deny",
	"abort":                         "deny",
}

var codexDecisionSources = map[string]string{"config": "config", "user": "user"}

func mapCodex(b *builder, name string) string {
	var ev string
	switch name {
	case "codex.conversation_starts":
		ev = evSessionStart
	case "codex.api_request":
		ev = evModelRequest
	case "codex.sse_event":
		// One stream has many SSE events; the completed response (usage)
		// and a failed one are what an audit needs.
		kind, _ := b.str("event.kind")
		_, hasErr := b.get("error.message")
		switch {
		case b.fail != nil:
			return ""
		case kind == "response.completed" && !hasErr:
			ev = evModelResponse
		case kind == "response.failed" || hasErr:
			ev = evError
		default:
			b.failf(reasonUnknownEvent, "no mapping for codex.sse_event of kind %q (only response.completed and failures are audit events)", kind)
			return ""
		}
	case "codex.user_prompt":
		ev = evPrompt
	case "codex.tool_decision":
		ev = evPermissionDecision
	case "codex.tool_result":
		ev = evToolResult
	default:
		b.failf(reasonUnknownEvent, "no mapping for Codex event %s", name)
		return ""
	}
	conv := firstIdentity(b, "conversation.id", "session.id")
	if conv == "" && b.fail == nil {
		b.failf(reasonMissingAttribute, "required attribute conversation.id is missing or empty")
	}
	b.out.PutStr("session.id", conv)
	b.out.PutStr("gen_ai.conversation.id", conv)
	b.out.PutStr("gen_ai.agent.name", agentCodex)
	user := firstIdentity(b, "user.email", "user.account_id")
	b.putStr("user.id", user, user != "")

	switch ev {
	case evSessionStart:
		b.copyStr("model", "gen_ai.request.model")
		b.copyStr("provider_name", "gen_ai.provider.name")
		b.copyStr("approval_policy", "agent_audit.permission_mode")
	case evModelRequest:
		b.putStr("gen_ai.request.model", b.reqStr("model"), true)
		status, hasStatus := b.int("http.response.status_code")
		b.putInt("http.response.status_code", status, hasStatus)
		msg, hasErr := b.str("error.message")
		b.putStr("exception.message", msg, hasErr)
		if b.fail == nil {
			if hasErr || (hasStatus && status >= 400) {
				b.out.PutStr("agent_audit.outcome", "failure")
			} else if hasStatus {
				b.out.PutStr("agent_audit.outcome", "success")
			}
		}
	case evModelResponse:
		b.putStr("gen_ai.request.model", b.reqStr("model"), true)
		b.copyInt("input_token_count", "gen_ai.usage.input_tokens")
		b.copyInt("output_token_count", "gen_ai.usage.output_tokens")
		b.copyInt("cached_token_count", attrCacheRead)
		b.copyInt("duration_ms", "agent_audit.duration_ms")
	case evError:
		b.copyStr("model", "gen_ai.request.model")
		kind, _ := b.str("event.kind")
		b.putStr("error.type", kind, true)
		if kind == "" && b.fail == nil {
			b.out.PutStr("error.type", "_OTHER")
		}
		b.copyStr("error.message", "exception.message")
	case evPrompt:
		b.copyInt("prompt_length", "agent_audit.prompt.length")
		b.promptBody("prompt")
	case evPermissionDecision:
		tool := b.reqStr("tool_name")
		b.putStr("gen_ai.tool.name", tool, true)
		b.putStr("agent_audit.action", tool, true)
		b.copyStr("call_id", "gen_ai.tool.call.id")
		d, _ := b.enum("decision", codexDecisions, true)
		b.putStr("agent_audit.decision", d, true)
		src, ok := b.enum("source", codexDecisionSources, false)
		b.putStr("agent_audit.decision.source", src, ok)
		b.putStr("agent_audit.approver.id", user, ok && src == "user")
	case evToolResult:
		b.putStr("gen_ai.tool.name", b.reqStr("tool_name"), true)
		b.copyStr("call_id", "gen_ai.tool.call.id")
		b.outcome("success")
		b.copyInt("duration_ms", "agent_audit.duration_ms")
		b.copyStr("arguments", "gen_ai.tool.call.arguments")
		if out, ok := b.str("output"); ok && b.fail == nil {
			b.out.PutStr("gen_ai.tool.call.result", out)
			b.moved["output"] = true
		}
	}
	return ev
}

// identityRequired reads a required identity attribute (record or resource).
func identityRequired(b *builder, key string) string {
	s, ok := b.identityStr(key)
	if !ok && b.fail == nil {
		b.failf(reasonMissingAttribute, "required attribute %s is missing or empty", key)
	}
	return s
}

// firstIdentity returns the first of keys present and not blank.
func firstIdentity(b *builder, keys ...string) string {
	for _, k := range keys {
		if s, ok := b.identityStr(k); ok {
			return s
		}
	}
	return ""
}
