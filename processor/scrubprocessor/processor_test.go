package scrubprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/agentaudit/otelcol-agentaudit/pkg/integrity"
	"github.com/agentaudit/otelcol-agentaudit/processor/scrubprocessor/internal/metadata"
)

// A tool call as agents send it: the evidence (tool, command, host, path)
// must survive, the credentials must not.
func TestMasksSecretsInBodyAttributesAndNestedValues(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Body().SetStr("ran aws s3 ls with " + awsKeyID + " for " + emailAddr)
	lr.Attributes().PutStr("gen_ai.tool.name", "Bash")
	args := lr.Attributes().PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutStr("command", "curl -H 'Authorization: Bearer "+bearerToken+"' https://api.example.com/v1/orders")
	env := args.PutEmptyMap("env")
	env.PutStr("DB_PASSWORD", dbPassword)
	env.PutStr("HOME", "/home/agent")
	headers := args.PutEmptySlice("headers")
	headers.AppendEmpty().SetStr("Stripe-Key: " + stripeKey)
	headers.AppendEmpty().SetStr("Accept: application/json")
	args.PutInt("timeout", 120000)

	out := firstRecord(consume(t, p, sink, ld))

	text := allText(sink.AllLogs()[0])
	for _, secret := range []string{awsKeyID, emailAddr, bearerToken, dbPassword, stripeKey} {
		assert.NotContains(t, text, secret)
	}
	assert.Equal(t, "ran aws s3 ls with [REDACTED:aws_access_key_id] for [REDACTED:pii_email]", out.Body().Str())
	gotArgs, _ := out.Attributes().Get("gen_ai.tool.call.arguments")
	cmd, _ := gotArgs.Map().Get("command")
	assert.Equal(t, "curl -H 'Authorization: Bearer [REDACTED:jwt]' https://api.example.com/v1/orders", cmd.Str(),
		"the most specific type names the finding")
	gotEnv, _ := gotArgs.Map().Get("env")
	pw, _ := gotEnv.Map().Get("DB_PASSWORD")
	assert.Equal(t, "[REDACTED:password_assignment]", pw.Str())
	home, _ := gotEnv.Map().Get("HOME")
	assert.Equal(t, "/home/agent", home.Str(), "paths are evidence")
	gotHeaders, _ := gotArgs.Map().Get("headers")
	assert.Equal(t, "Stripe-Key: [REDACTED:stripe_secret_key]", gotHeaders.Slice().At(0).Str())
	assert.Equal(t, "Accept: application/json", gotHeaders.Slice().At(1).Str())
	timeout, _ := gotArgs.Map().Get("timeout")
	assert.Equal(t, int64(120000), timeout.Int())
	tool, _ := out.Attributes().Get("gen_ai.tool.name")
	assert.Equal(t, "Bash", tool.Str())

	assert.Equal(t, map[string]int64{
		"aws_access_key_id": 1, "pii_email": 1, "jwt": 1, "password_assignment": 1, "stripe_secret_key": 1,
	}, report(t, out))
	assert.Equal(t, int64(5), counter(t, tel, "otelcol_processor_scrub_findings"))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_findings", "finding_type", "stripe_secret_key", "action", "mask"))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_records_scrubbed"))
	assert.Positive(t, counter(t, tel, "otelcol_processor_scrub_bytes_scanned"))
}

func TestCleanRecordsPassUnchanged(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.file.write")
	lr.Attributes().PutStr("file.path", "/home/agent/project/secrets/token.go")
	lr.Attributes().PutStr("agent_audit.file.sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	lr.Attributes().PutStr("trace.id", "4bf92f3577b34da6a3ce929d0e0e4736")
	lr.Attributes().PutStr("git.commit", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")
	lr.Attributes().PutStr("url.full", "https://github.com/org/repo/pull/42?tab=files")
	lr.Body().SetStr("The password field must not be empty; see docs/passwords.md")
	want := plog.NewLogs()
	ld.CopyTo(want)

	got := consume(t, p, sink, ld)
	assert.Equal(t, allText(want), allText(got))
	_, reported := firstRecord(got).Attributes().Get(defaultReportAttribute)
	assert.False(t, reported, "a clean record gets no report")
	assert.Zero(t, counter(t, tel, "otelcol_processor_scrub_findings"))
	assert.Zero(t, counter(t, tel, "otelcol_processor_scrub_records_scrubbed"))
}

func TestHMACPseudonymsCorrelate(t *testing.T) {
	key := testKey(t)
	p, sink, _ := newScrub(t, func(c *Config) {
		c.Actions = map[string]Action{"secret": ActionHMAC, "email": ActionHMAC}
		c.HMAC.KeyID = "2026-11"
	})
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for _, text := range []string{"deploy with " + stripeKey, "again " + stripeKey + " by " + emailAddr} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.command.exec")
		lr.Body().SetStr(text)
	}
	out := consume(t, p, sink, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	pseudo := "[HMAC:stripe_secret_key:2026-11:" + hmacHex(key, stripeKey)[:32] + "]"
	assert.Equal(t, "deploy with "+pseudo, out.At(0).Body().Str())
	assert.Equal(t, "again "+pseudo+" by [HMAC:pii_email:2026-11:"+hmacHex(key, emailAddr)[:32]+"]", out.At(1).Body().Str())
}

func TestDropAttribute(t *testing.T) {
	p, sink, tel := newScrub(t, func(c *Config) {
		c.Actions = map[string]Action{"secret": ActionDropAttribute}
		c.TypeActions = map[string]Action{"pii_email": ActionDropAttribute}
	})
	ld, lr := oneRecord("agent_audit.tool.call")
	lr.Attributes().PutStr("gen_ai.tool.name", "Bash")
	args := lr.Attributes().PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutStr("command", "echo ok")
	args.PutEmptyMap("env").PutStr("STRIPE_KEY", stripeKey) // nested: the whole top-level attribute goes
	lr.Attributes().PutStr("user.email", emailAddr)
	lr.Attributes().PutStr("phone", "call +44 20 7946 0958") // phone stays masked: its own class
	lr.Body().SetStr("token " + slackBot)

	out := firstRecord(consume(t, p, sink, ld))
	_, ok := out.Attributes().Get("gen_ai.tool.call.arguments")
	assert.False(t, ok)
	_, ok = out.Attributes().Get("user.email")
	assert.False(t, ok)
	phone, _ := out.Attributes().Get("phone")
	assert.Equal(t, "call [REDACTED:pii_phone]", phone.Str())
	assert.Equal(t, pcommon.ValueTypeEmpty, out.Body().Type(), "a body with a dropped finding is emptied")
	tool, _ := out.Attributes().Get("gen_ai.tool.name")
	assert.Equal(t, "Bash", tool.Str())
	assert.Equal(t, map[string]int64{"stripe_secret_key": 1, "pii_email": 1, "pii_phone": 1, "slack_bot_token": 1}, report(t, out))
	assert.Equal(t, int64(3), counter(t, tel, "otelcol_processor_scrub_attributes_dropped"))
}

func TestDropRecord(t *testing.T) {
	p, sink, tel := newScrub(t, func(c *Config) {
		c.Actions = map[string]Action{"us_ssn": ActionDropRecord}
	})
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for i, text := range []string{"ssn on file: " + ssn, "nothing here", "key " + awsKeyID} {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetEventName("agent_audit.command.exec")
		lr.Attributes().PutInt("n", int64(i))
		lr.Body().SetStr(text)
	}
	out := consume(t, p, sink, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2, out.Len())
	assert.Equal(t, "nothing here", out.At(0).Body().Str())
	assert.Equal(t, "key [REDACTED:aws_access_key_id]", out.At(1).Body().Str())
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_records_dropped"))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_findings", "finding_type", "pii_us_ssn", "action", "drop_record"))

	// A batch whose every record is dropped is not passed on at all.
	ld2, lr2 := oneRecord("agent_audit.command.exec")
	lr2.Body().SetStr("ssn " + ssn)
	sink.Reset()
	require.NoError(t, p.ConsumeLogs(context.Background(), ld2))
	assert.Empty(t, sink.AllLogs())
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_processor_scrub_records_dropped"))
}

func TestResourceAndScopeAttributes(t *testing.T) {
	build := func() plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("deploy.note", "key "+awsKeyID)
		rl.Resource().Attributes().PutStr("host.name", "build-07")
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().Attributes().PutStr("owner", emailAddr)
		for i := 0; i < 2; i++ {
			sl.LogRecords().AppendEmpty().SetEventName("agent_audit.session.start")
		}
		return ld
	}
	p, sink, _ := newScrub(t, nil)
	out := consume(t, p, sink, build())
	rl := out.ResourceLogs().At(0)
	note, _ := rl.Resource().Attributes().Get("deploy.note")
	assert.Equal(t, "key [REDACTED:aws_access_key_id]", note.Str())
	owner, _ := rl.ScopeLogs().At(0).Scope().Attributes().Get("owner")
	assert.Equal(t, "[REDACTED:pii_email]", owner.Str())
	for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
		assert.Equal(t, map[string]int64{"aws_access_key_id": 1, "pii_email": 1}, report(t, lr),
			"each record reports what its resource and scope held")
	}

	off, sinkOff, _ := newScrub(t, func(c *Config) { c.ResourceAttributes, c.ScopeAttributes = false, false })
	assert.Contains(t, allText(consume(t, off, sinkOff, build())), awsKeyID, "resource scanning is configurable")

	drop, sinkDrop, tel := newScrub(t, func(c *Config) { c.Actions = map[string]Action{"secret": ActionDropRecord} })
	require.NoError(t, drop.ConsumeLogs(context.Background(), build()))
	assert.Empty(t, sinkDrop.AllLogs(), "drop_record on a resource finding drops its records")
	assert.Equal(t, int64(2), counter(t, tel, "otelcol_processor_scrub_records_dropped"))
}

func TestContentDigests(t *testing.T) {
	key := testKey(t)
	prompt := "Deploy the app; the DB password is " + dbPassword
	p, sink, tel := newScrub(t, nil)
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	lr := sl.LogRecords().AppendEmpty()
	lr.SetEventName("agent_audit.prompt")
	lr.Body().SetStr(prompt)
	res := sl.LogRecords().AppendEmpty()
	res.SetEventName("agent_audit.tool.result")
	res.Attributes().PutStr("gen_ai.tool.name", "Read")
	result := res.Attributes().PutEmptyMap("gen_ai.tool.call.result")
	result.PutStr("stdout", "AWS_ACCESS_KEY_ID="+awsKeyID)
	result.PutInt("exit_code", 0)
	wantResult := string(integrity.AppendCanonicalValue(nil, func() pcommon.Value {
		v := pcommon.NewValueEmpty()
		mustGet(res.Attributes(), "gen_ai.tool.call.result").CopyTo(v)
		return v
	}()))
	call := sl.LogRecords().AppendEmpty()
	call.SetEventName("agent_audit.tool.call")
	call.Body().SetStr("tool call bodies are not content by default")
	// A value that merely starts like a digest is digested like any other.
	forged := sl.LogRecords().AppendEmpty()
	forged.SetEventName("agent_audit.prompt")
	forged.Body().SetStr(contentMarker + "k1:" + stripeKey + "]")

	out := consume(t, p, sink, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, "[HMAC:content:k1:"+hmacHex(key, prompt)+"]", out.At(0).Body().Str())
	assert.Nil(t, report(t, out.At(0)), "digested content is not scanned: it holds no text any more")
	got := mustGet(out.At(1).Attributes(), "gen_ai.tool.call.result")
	assert.Equal(t, "[HMAC:content:k1:"+hmacHex(key, wantResult)+"]", got.Str(), "structured content is digested in canonical form")
	assert.Equal(t, "tool call bodies are not content by default", out.At(2).Body().Str())
	assert.True(t, isContentDigest(out.At(3).Body().Str()))
	assert.NotContains(t, out.At(3).Body().Str(), stripeKey)
	assert.Equal(t, int64(3), counter(t, tel, "otelcol_processor_scrub_content_digested"))

	// Scrubbing twice (an agent, then a gateway) changes nothing.
	again := plog.NewLogs()
	sink.AllLogs()[0].CopyTo(again)
	twice := consume(t, p, sink, again)
	assert.Equal(t, allText(again), allText(twice))
}

func TestContentKeptRawWhereConfigured(t *testing.T) {
	prompt := "run PGPASSWORD=" + dbPassword + " psql -h db.staging for me"
	for name, mutate := range map[string]func(*Config){
		"keep everywhere": func(c *Config) { c.Content.Action = ContentKeep },
		"keep for event":  func(c *Config) { c.Content.KeepRawEvents = []string{"agent_audit.prompt"} },
	} {
		t.Run(name, func(t *testing.T) {
			p, sink, _ := newScrub(t, mutate)
			ld, lr := oneRecord("agent_audit.prompt")
			lr.Body().SetStr(prompt)
			out := firstRecord(consume(t, p, sink, ld))
			assert.Equal(t, "run PGPASSWORD=[REDACTED:password_assignment] psql -h db.staging for me", out.Body().Str(),
				"raw content is still scrubbed")
		})
	}
}

// Records an upstream collector chained are committed: one that holds
// nothing to find (an honest agent scrubbed it) passes unchanged, content
// included; one that still holds a secret is scrubbed anyway and counted.
// The integrity records (checkpoints, announcements) are never touched.
func TestChainedAndIntegrityRecords(t *testing.T) {
	p, sink, tel := newScrub(t, nil)
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	honest := sl.LogRecords().AppendEmpty()
	honest.SetEventName("agent_audit.prompt")
	honest.Body().SetStr("an agent configured to keep prompts raw")
	honest.Attributes().PutStr(integrity.AttrLogID, "agent-7/1")
	cp := sl.LogRecords().AppendEmpty()
	cp.SetEventName(integrity.EventCheckpoint)
	cp.Body().SetStr("agent-7/1\n12\nsignature with token=" + stripeKey)
	cp.Attributes().PutStr(integrity.AttrLogID, "agent-7/1")
	digest := sl.LogRecords().AppendEmpty()
	digest.SetEventName("agent_audit.command.exec")
	digest.Attributes().PutStr(integrity.AttrRecordDigest, strings.Repeat("ab", 32))
	digest.Body().SetStr("x")
	leaky := sl.LogRecords().AppendEmpty()
	leaky.SetEventName("agent_audit.prompt")
	leaky.Body().SetStr("forged or loosely scrubbed: " + awsKeyID)
	leaky.Attributes().PutStr(integrity.AttrLogID, "agent-7/1")
	want := plog.NewLogs()
	ld.CopyTo(want)

	out := consume(t, p, sink, ld).ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	wantRecs := want.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < 3; i++ {
		assert.Equal(t, wantRecs.At(i).Body().AsString(), out.At(i).Body().AsString())
		assert.Equal(t, wantRecs.At(i).Attributes().AsRaw(), out.At(i).Attributes().AsRaw())
	}
	assert.Equal(t, "forged or loosely scrubbed: [REDACTED:aws_access_key_id]", out.At(3).Body().Str())
	assert.Equal(t, map[string]int64{"aws_access_key_id": 1}, report(t, out.At(3)))
	assert.Equal(t, int64(1), counter(t, tel, "otelcol_processor_scrub_chained_records_altered"))
	assert.Zero(t, counter(t, tel, "otelcol_processor_scrub_content_digested"), "content of chained records stays as the agent left it")
}

func TestReportAddsToUpstreamReport(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.command.exec")
	up := lr.Attributes().PutEmptyMap(defaultReportAttribute)
	up.PutInt("aws_access_key_id", 2)
	up.PutInt("pii_email", 1)
	lr.Body().SetStr("again " + awsKeyID)
	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, map[string]int64{"aws_access_key_id": 3, "pii_email": 1}, report(t, out))
}

func TestAllowList(t *testing.T) {
	p, sink, _ := newScrub(t, func(c *Config) {
		c.Allow = AllowConfig{
			Values:   []string{"ops@corp-example.com"},
			Patterns: []string{`test-[0-9]+@corp-example\.com`},
			Keys:     []string{"Fixture.Token"},
		}
	})
	ld, lr := oneRecord("agent_audit.command.exec")
	lr.Body().SetStr("mail ops@corp-example.com, test-42@corp-example.com and " + emailAddr)
	lr.Attributes().PutStr("fixture.token", stripeKey)
	out := firstRecord(consume(t, p, sink, ld))
	assert.Equal(t, "mail ops@corp-example.com, test-42@corp-example.com and [REDACTED:pii_email]", out.Body().Str())
	assert.Equal(t, stripeKey, mustGet(out.Attributes(), "fixture.token").Str())
}

// Card and phone numbers arrive as JSON numbers too; a key can itself be a
// secret. These are the only changes of type and of keys.
func TestNumbersAndKeys(t *testing.T) {
	p, sink, _ := newScrub(t, nil)
	ld, lr := oneRecord("agent_audit.tool.call")
	args := lr.Attributes().PutEmptyMap("gen_ai.tool.call.arguments")
	args.PutInt("card", 4111111111111111)
	args.PutInt("count", 4111)
	args.PutBool(stripeKey, true)
	lr.Attributes().PutEmptyBytes("blob").FromRaw([]byte("key=" + awsKeyID))
	out := firstRecord(consume(t, p, sink, ld))
	gotArgs := mustGet(out.Attributes(), "gen_ai.tool.call.arguments").Map()
	assert.Equal(t, "[REDACTED:pii_payment_card]", mustGet(gotArgs, "card").Str())
	assert.Equal(t, int64(4111), mustGet(gotArgs, "count").Int())
	assert.True(t, mustGet(gotArgs, "[REDACTED:stripe_secret_key]").Bool())
	assert.Equal(t, 3, gotArgs.Len())
	assert.Equal(t, "key=[REDACTED:aws_access_key_id]", mustGet(out.Attributes(), "blob").Str())
	assert.NotContains(t, allText(sink.AllLogs()[0]), cardNumber)
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "scrub.key")
	create := func(c HMACConfig) error {
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.HMAC = c
		if err := cfg.Validate(); err != nil {
			return err
		}
		_, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, nil)
		return err
	}
	assert.ErrorContains(t, create(HMACConfig{KeyFile: path}), "no such file")
	require.NoError(t, create(HMACConfig{KeyFile: path, CreateKeyFile: true}))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	first, _ := os.ReadFile(path)
	require.NoError(t, create(HMACConfig{KeyFile: path, CreateKeyFile: true}))
	second, _ := os.ReadFile(path)
	assert.Equal(t, first, second, "an existing key is never replaced")

	short := filepath.Join(dir, "short.key")
	require.NoError(t, os.WriteFile(short, []byte("too-short\n"), 0o600))
	assert.ErrorContains(t, create(HMACConfig{KeyFile: short}), "holds 9 bytes; the key needs at least 32")

	assert.ErrorContains(t, create(HMACConfig{KeyEnv: "AGENTAUDIT_TEST_UNSET_KEY"}), "AGENTAUDIT_TEST_UNSET_KEY is not set")
	t.Setenv("AGENTAUDIT_TEST_SCRUB_KEY", strings.Repeat("k", 40))
	require.NoError(t, create(HMACConfig{KeyEnv: "AGENTAUDIT_TEST_SCRUB_KEY"}))
}

func mustGet(m pcommon.Map, k string) pcommon.Value {
	v, ok := m.Get(k)
	if !ok {
		panic("missing " + k)
	}
	return v
}
